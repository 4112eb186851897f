namespace Edge.Testing;
