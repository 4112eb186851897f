using System.CommandLine;
using Edge.Cli.Config;

namespace Edge.Cli.Tests.Config;

public sealed class ConfigValidateCommandTests
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

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

    [Fact]
    public async Task Validate_ShippedProxyJsonWithExampleEnvFile_ExitsZeroWithoutWarnings()
    {
        // The command in docs/configuration.md, as written, from the repository root. The demo is what a new user starts
        // first: a warning on the untouched file (every ./run.sh logged one) teaches them to ignore warnings.
        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", Path.Combine(RepositoryRoot, "proxy.json"),
            "--env-file", Path.Combine(RepositoryRoot, "config", ".env.example"));

        Assert.True(exitCode == 0, error + output);
        Assert.Equal("proxy.json: valid", output.Trim().Replace(Path.Combine(RepositoryRoot, "proxy.json"), "proxy.json", StringComparison.Ordinal));
        Assert.DoesNotContain("demo-hs256-key-change-me", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ForwardHeaderUnderCustomIdentityPrefix_ValidWithTheEdgesPrefix()
    {
        // An edge started with --Edge:IdentityHeaderPrefix=X-Gw- serves this file; the check must say the same.
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """
        { "ReverseProxy": {
            "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a" }, "Transforms": [ { "EdgeTenant": "Static", "Value": "acme" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
          "Edge": { "Tenancy": { "ForwardHeader": "X-Gw-Tenant" } } }
        """);
        try
        {
            var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", path, "--identity-header-prefix", "X-Gw-");
            var (defaultExitCode, _, defaultError) = await CliRunner.RunAsync("config", "validate", path);
            var (emptyExitCode, _, emptyError) = await CliRunner.RunAsync("config", "validate", path, "--identity-header-prefix", "");

            Assert.True(exitCode == 0, error + output);
            Assert.Equal(1, defaultExitCode);
            Assert.Contains("must start with the identity prefix 'X-Edge-'", defaultError, StringComparison.Ordinal);
            Assert.Equal(2, emptyExitCode);
            Assert.Contains("identity header prefix is empty", emptyError, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Validate_EnvFileValues_AreRestoredAfterTheCheck()
    {
        var name = "EDGE_TEST_SECRET_" + Guid.NewGuid().ToString("N");
        var (proxyJson, envFile) = await WriteWebhookConfigAsync(name, $"# comment\n\nexport {name}=\"a-quoted-secret-value-0123456789\"\n");

        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", proxyJson, "--env-file", envFile);

        Assert.True(exitCode == 0, error + output);
        Assert.Null(Environment.GetEnvironmentVariable(name));
        Assert.DoesNotContain("a-quoted-secret-value", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_UnsetEnvVariable_NamesLocationVariableAndHint()
    {
        var name = "EDGE_TEST_SECRET_" + Guid.NewGuid().ToString("N");
        var (proxyJson, _) = await WriteWebhookConfigAsync(name, "");

        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", proxyJson);

        Assert.Equal(1, exitCode);
        Assert.Contains($"error at Edge:Webhooks:hook:Secrets[0]: environment variable '{name}' is not set or empty", error, StringComparison.Ordinal);
        Assert.Contains("--env-file", error, StringComparison.Ordinal);
        Assert.Contains("1 error(s)", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("NOT A LINE\n", ":1: expected NAME=value")]
    [InlineData("# ok\nA=\"unclosed\n", ":2: the value of A has an unclosed quote")]
    public async Task Validate_MalformedEnvFile_ExitsTwoWithLineAndNoValue(string content, string expected)
    {
        var (proxyJson, envFile) = await WriteWebhookConfigAsync("UNUSED", content);

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson, "--env-file", envFile);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("unclosed\n", error.Replace("unclosed quote", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_MissingEnvFile_ExitsTwo()
    {
        var (proxyJson, _) = await WriteWebhookConfigAsync("UNUSED", "");

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson, "--env-file", "/nonexistent/edge.env");

        Assert.Equal(2, exitCode);
        Assert.Contains("the env file '/nonexistent/edge.env' cannot be read: it does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_EnvFileIsADirectory_ExitsTwoSayingSo()
    {
        var (proxyJson, _) = await WriteWebhookConfigAsync("UNUSED", "");
        var directory = Directory.CreateTempSubdirectory("edge-cli-envdir-").FullName;

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", proxyJson, "--env-file", directory);

        Assert.Equal(2, exitCode);
        Assert.Contains("cannot be read: it is a directory", error, StringComparison.Ordinal);
    }

    private static async Task<(string ProxyJson, string EnvFile)> WriteWebhookConfigAsync(string variable, string envContent)
    {
        var directory = Directory.CreateTempSubdirectory("edge-cli-").FullName;
        var proxyJson = Path.Combine(directory, "proxy.json");
        var envFile = Path.Combine(directory, "test.env");
        await File.WriteAllTextAsync(proxyJson, $$"""
        { "Edge": { "Webhooks": { "hook": { "Scheme": "GitHub", "Secrets": [ "env:{{variable}}" ] } } },
          "ReverseProxy": {
            "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a" }, "Transforms": [ { "EdgeWebhook": "hook" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } } }
        """);
        await File.WriteAllTextAsync(envFile, envContent);
        return (proxyJson, envFile);
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above the test directory.");
    }

    private static Task<int> InvokeAsync(string path)
    {
        var root = new RootCommand { new Command("config") { ConfigValidateCommand.Create() } };
        return root.Parse(["config", "validate", path]).InvokeAsync();
    }
}
