namespace Edge.Audit.Tests;
