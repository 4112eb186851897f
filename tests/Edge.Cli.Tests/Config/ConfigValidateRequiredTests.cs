namespace Edge.Cli.Tests.Config;

/// <summary>A required policy option left out is reported as missing, with what it takes, not as a bad value the file never held.</summary>
public sealed class ConfigValidateRequiredTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-cli-required-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    // Before: "must be between 1 and 10000000 (was 0)" and "unknown scheme ''; use GitHub, …" for options nobody wrote.
    [InlineData("""{ "RateLimits": { "p": { "Window": "00:01:00" } } }""", "error at Edge:RateLimits:p:Limit: is required: the requests allowed per Window, 1 to 10000000")]
    [InlineData("""{ "RateLimits": { "p": { "Limit": 0 } } }""", "error at Edge:RateLimits:p:Limit: must be between 1 and 10000000 (was 0)")]
    [InlineData("""{ "Webhooks": { "w": { "Secrets": [ "file:/etc/hostname" ] } } }""", "error at Edge:Webhooks:w:Scheme: is required: one of GitHub, Meta, Telegram, Stripe, Slack, StandardWebhooks, Generic")]
    [InlineData("""{ "Webhooks": { "w": { "Scheme": "Gitlab", "Secrets": [ "file:/etc/hostname" ] } } }""", "error at Edge:Webhooks:w:Scheme: unknown scheme 'Gitlab'; use GitHub, Meta, Telegram, Stripe, Slack, StandardWebhooks, Generic")]
    public async Task Validate_RequiredOptionMissingOrWrong_SaysWhichAndWhatItTakes(string edge, string expected)
    {
        var path = Path.Combine(_directory, "proxy.json");
        await File.WriteAllTextAsync(path, $$"""
            { "ReverseProxy": {
                "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" } } },
                "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } } } },
              "Edge": {{edge}} }
            """);

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
