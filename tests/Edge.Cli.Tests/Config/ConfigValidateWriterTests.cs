namespace Edge.Cli.Tests.Config;

/// <summary>
/// <c>edge config validate --writer ENTRY</c>: a proxy.json written for the audit writer's <c>Writer:ProxyConfigPath</c>
/// judged as the writer reads it at start (its <c>Edge:Authentication</c> entry and <c>Edge:Roles</c>, no routes).
/// </summary>
public sealed class ConfigValidateWriterTests : IDisposable
{
    // The file load/bench-audit-query.sh gives its writer: credentials only, no routes.
    private const string WriterOnly = """
        {
          "ReverseProxy": { "Routes": {}, "Clusters": {} },
          "Edge": {
            "Authentication": { "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
              { "Sha256": "5856358efd838b03c993d5c3db192dc3826153f2daaaf69e8d58744fb8e5d808", "Principal": "bench-auditor", "Tenant": "ops", "Roles": [ "Auditor" ] } ] } },
            "Roles": { "Auditor": [ "audit.read.all" ] }
          }
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("edge-cli-writer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Validate_WriterOnlyFileWithWriterOption_ExitsZeroSayingWhatWasChecked()
    {
        var path = await WriteAsync(WriterOnly);

        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditors");

        Assert.True(exitCode == 0, error + output);
        Assert.Contains($"{path}: valid for the audit writer (Writer:Authentication=auditors)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WriterOnlyFileWithoutWriterOption_ExitsOneWithHintToWriterOption()
    {
        var path = await WriteAsync(WriterOnly);

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path);

        Assert.Equal(1, exitCode);
        Assert.Contains("error at ReverseProxy:Routes: no routes", error, StringComparison.Ordinal);
        Assert.Contains("hint: a file only for the audit writer (Writer:ProxyConfigPath): check it with --writer <Writer:Authentication entry>, e.g. --writer auditors", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WriterEntryNotDefined_ExitsOneAtTheEntryNamingTheDefinedOnes()
    {
        var path = await WriteAsync(WriterOnly);

        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditor");

        Assert.Equal(1, exitCode);
        Assert.Contains("error at Edge:Authentication:auditor: no such authentication policy; defined: auditors", error, StringComparison.Ordinal);
        Assert.Contains("1 error(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WriterEntryBroken_ExitsOneAtItsField()
    {
        var path = await WriteAsync(WriterOnly.Replace("\"Sha256\": \"5856", "\"Sha256\": \"zz56", StringComparison.Ordinal));

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditors");

        Assert.Equal(1, exitCode);
        Assert.Contains("error at Edge:Authentication:auditors:Keys[0]:Sha256", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WriterEntrySecretUnset_ResolvedFromEnvFile()
    {
        var name = "EDGE_TEST_IDENTITY_" + Guid.NewGuid().ToString("N");
        var path = await WriteAsync(WriterOnly.Replace("\"Header\": \"X-Api-Key\",", $"\"Header\": \"X-Api-Key\", \"IdentitySigningKey\": \"env:{name}\",", StringComparison.Ordinal));
        var envFile = Path.Combine(_directory, ".env");
        await File.WriteAllTextAsync(envFile, $"{name}=a-writer-identity-key-of-32-bytes-or-more-0123456789\n");

        var (unsetExit, _, unsetError) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditors");
        var (exitCode, output, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditors", "--env-file", envFile);

        Assert.Equal(1, unsetExit);
        Assert.Contains($"error at Edge:Authentication:auditors:IdentitySigningKey: environment variable '{name}' is not set or empty", unsetError, StringComparison.Ordinal);
        Assert.Contains("--env-file", unsetError, StringComparison.Ordinal);
        Assert.True(exitCode == 0, error + output);
    }

    [Fact]
    public async Task Validate_WriterOptionOnEdgeFile_IgnoresRoutesAsTheWriterDoes()
    {
        // The writer never reads routes: a route the edge would refuse does not stop the writer from starting.
        var path = await WriteAsync(WriterOnly.Replace("\"Routes\": {}", "\"Routes\": { \"r\": { \"ClusterId\": \"missing\", \"Match\": { \"Path\": \"/r\" } } }", StringComparison.Ordinal));

        var (edgeExit, _, _) = await CliRunner.RunAsync("config", "validate", path);
        var (writerExit, output, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", "auditors");

        Assert.Equal(1, edgeExit);
        Assert.True(writerExit == 0, error + output);
    }

    [Fact]
    public async Task Validate_WriterOptionEmpty_ExitsTwo()
    {
        var path = await WriteAsync(WriterOnly);

        var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path, "--writer", " ");

        Assert.Equal(2, exitCode);
        Assert.Contains("error: --writer names no entry", error, StringComparison.Ordinal);
    }

    private async Task<string> WriteAsync(string json)
    {
        var path = Path.Combine(_directory, "proxy.json");
        await File.WriteAllTextAsync(path, json);
        return path;
    }
}
