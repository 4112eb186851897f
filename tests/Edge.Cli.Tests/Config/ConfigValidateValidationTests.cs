namespace Edge.Cli.Tests.Config;

/// <summary><c>edge config validate</c> reports what is wrong with an <c>Edge:Validation</c> policy, as the edge would refuse it.</summary>
public sealed class ConfigValidateValidationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-cli-validation-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Validate_SchemaNextToProxyJson_ExitsZero()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "schemas"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "schemas", "orders.json"), """{"type":"object","required":["amount"]}""");
        var proxyJson = await WriteAsync("orders", """{ "orders": { "JsonSchema": "file:schemas/orders.json" } }""");

        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", proxyJson);

        Assert.True(exitCode == 0, error + output);
    }

    [Fact]
    public async Task Validate_MissingSchemaFile_ExitsOneNamingPolicyAndFile()
    {
        var proxyJson = await WriteAsync("orders", """{ "orders": { "JsonSchema": "file:schemas/missing.json" } }""");

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson);

        Assert.Equal(1, exitCode);
        Assert.Contains("error at Edge:Validation:orders:JsonSchema: the schema file '", error, StringComparison.Ordinal);
        Assert.Contains("missing.json' does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_SchemaNotJson_ExitsOne()
    {
        await File.WriteAllTextAsync(Path.Combine(_directory, "broken.json"), """{"type": "object",""");
        var proxyJson = await WriteAsync("orders", """{ "orders": { "JsonSchema": "file:broken.json" } }""");

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson);

        Assert.Equal(1, exitCode);
        Assert.Contains("error at Edge:Validation:orders:JsonSchema:", error, StringComparison.Ordinal);
        Assert.Contains("is not valid JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_RouteNamesUndefinedPolicy_ExitsOneAtTheRoute()
    {
        var proxyJson = await WriteAsync("invoices", """{ "orders": { "MaxBodyBytes": 1024 } }""");

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson);

        Assert.Equal(1, exitCode);
        Assert.Contains("error at ReverseProxy:Routes:a:Transforms[0]:EdgeValidate: validation policy 'invoices' is not defined in Edge:Validation", error, StringComparison.Ordinal);
    }

    private async Task<string> WriteAsync(string policy, string validation)
    {
        var path = Path.Combine(_directory, "proxy.json");
        await File.WriteAllTextAsync(path, $$"""
        { "Edge": { "Validation": {{validation}} },
          "ReverseProxy": {
            "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a" }, "Transforms": [ { "EdgeValidate": "{{policy}}" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } } }
        """);
        return path;
    }
}
