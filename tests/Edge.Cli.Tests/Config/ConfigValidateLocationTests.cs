namespace Edge.Cli.Tests.Config;

public sealed class ConfigValidateLocationTests
{
    [Fact]
    public async Task Validate_MalformedJson_ErrorUsesDocumentedLocationForm()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """{ "ReverseProxy": { "Routes": { "orders": { "ClusterId": 5 } } } }""");
        try
        {
            var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path);

            Assert.Equal(1, exitCode);
            Assert.Contains("error at ReverseProxy:Routes:orders:ClusterId:", error, StringComparison.Ordinal);
            Assert.DoesNotContain("$.", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
