using System.CommandLine;
using Edge.Cli.Config;

namespace Edge.Cli.Tests.Config;

public sealed class ConfigValidateCommandTests
{
    [Fact]
    public async Task Validate_InvalidFile_ExitsNonZero()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """{ "ReverseProxy": { "Routes": { "a": { "ClusterId": "x", "Match": { "Path": "/a" } } } } }""");
        try
        {
            Assert.Equal(1, await InvokeAsync(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Validate_ValidFile_ExitsZero()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """
        { "ReverseProxy": {
            "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a" }, "Transforms": [ { "EdgeTenant": "Static", "Value": "acme" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } } }
        """);
        try
        {
            Assert.Equal(0, await InvokeAsync(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Task<int> InvokeAsync(string path)
    {
        var root = new RootCommand { new Command("config") { ConfigValidateCommand.Create() } };
        return root.Parse(["config", "validate", path]).InvokeAsync();
    }
}
