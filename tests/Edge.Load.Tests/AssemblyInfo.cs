namespace Edge.Load.Tests;
