namespace Edge.Proxy.Tests;
