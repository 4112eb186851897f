namespace Edge.Cli.Tests;
