namespace Edge.FunctionalTests;
