namespace Edge.Cli.Tests.Config;

public sealed class ConfigValidateLocationTests
{
    [Fact]
    public async Task Validate_MalformedJson_ErrorUsesDocumentedLocationForm()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """{ "ReverseProxy": { "Routes": { "orders": { "ClusterId": 5 } } } }""");
        var error = new StringWriter();
        var original = Console.Error;
        try
        {
            // ConfigValidateCommand writes problems to Console.Error.
            Console.SetError(error);
            var (exitCode, _, _) = await CliRunner.RunAsync("config", "validate", path);

            Assert.Equal(1, exitCode);
        }
        finally
        {
            Console.SetError(original);
            File.Delete(path);
        }

        Assert.Contains("error at ReverseProxy:Routes:orders:ClusterId:", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("$.", error.ToString(), StringComparison.Ordinal);
    }
}
