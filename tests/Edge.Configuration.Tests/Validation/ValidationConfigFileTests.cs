namespace Edge.Configuration.Tests.Validation;

/// <summary>The whole file check (what the edge runs on load and reload, and <c>edge config validate</c>) for <c>Edge:Validation</c>.</summary>
public sealed class ValidationConfigFileTests : IDisposable
{
    private readonly SchemaFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task ValidateAsync_SchemaRelativeToProxyJson_NoErrors()
    {
        Directory.CreateDirectory(Path.Combine(_files.Directory, "schemas"));
        _files.Write("schemas/orders.json", SchemaFiles.OrderSchema);
        var path = _files.Write("proxy.json", ProxyJson("orders", """{ "orders": { "JsonSchema": "file:schemas/orders.json", "MaxBodyBytes": 65536 } }"""));

        var errors = await ProxyConfigFileValidator.ValidateAsync(path);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task ValidateAsync_MissingSchemaFile_ErrorAtThePolicy()
    {
        var path = _files.Write("proxy.json", ProxyJson("orders", """{ "orders": { "JsonSchema": "file:schemas/gone.json" } }"""));

        var errors = await ProxyConfigFileValidator.ValidateAsync(path);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("Edge:Validation:orders:JsonSchema", error.Location);
        Assert.Contains("gone.json' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_RouteNamesUnknownPolicy_ErrorAtTheRoute()
    {
        var path = _files.Write("proxy.json", ProxyJson("invoices", """{ "orders": { "MaxBodyBytes": 1024 } }"""));

        var errors = await ProxyConfigFileValidator.ValidateAsync(path);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[0]:EdgeValidate", error.Location);
    }

    [Fact]
    public async Task ValidateAsync_MisspeltOption_Refused()
    {
        var path = _files.Write("proxy.json", ProxyJson("orders", """{ "orders": { "MaxBodyByte": 1024 } }"""));

        var errors = await ProxyConfigFileValidator.ValidateAsync(path);

        Assert.Contains(errors, e => !e.IsWarning && e.Message.Contains("MaxBodyByte", StringComparison.Ordinal));
    }

    internal static string ProxyJson(string policy, string validation) => $$"""
    { "ReverseProxy": {
        "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/orders" }, "Transforms": [ { "EdgeValidate": "{{policy}}" } ] } },
        "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
      "Edge": { "Validation": {{validation}} } }
    """;
}
