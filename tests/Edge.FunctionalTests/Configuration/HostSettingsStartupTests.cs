using Edge.FunctionalTests.Auditing;
using Edge.Testing;

namespace Edge.FunctionalTests.Configuration;

/// <summary>The built edge and writer, started as a platform team starts them, with one host setting wrong.</summary>
public sealed class HostSettingsStartupTests
{
    private const string UnsetVariable = "EDGE_TEST_NEVER_SET_INGEST_TOKEN";

    [Theory]
    [InlineData("Edge.Proxy", "--Edge:TrustedProxies=garbage", "error: Edge:TrustedProxies entry 'garbage' is not a CIDR range")]
    [InlineData("Edge.Proxy", "--AllowedHosts=https://shop.example", "error: AllowedHosts entry 'https://shop.example' is not a host name")]
    [InlineData("Edge.Proxy", "--Edge:Audit:IngestToken=env:" + UnsetVariable, "error: Edge:Audit:IngestToken: environment variable '" + UnsetVariable + "' is not set or empty")]
    [InlineData("Edge.AuditWriter", "--Writer:IngestToken=env:" + UnsetVariable, "error: Writer:IngestToken: environment variable '" + UnsetVariable + "' is not set or empty")]
    [InlineData("Edge.Proxy", "--Edge:Audit:WriterUrl= --Edge:Audit:IngestToken=env:" + UnsetVariable, "error: Edge:Audit:IngestToken is set but Edge:Audit:WriterUrl is not")]
    [InlineData("Edge.Proxy", "--Edge:Audit:WriterUrl= --Edge:Audit:IngestToken=file:/etc/hostname", "error: Edge:Audit:IngestToken is set but Edge:Audit:WriterUrl is not")]
    [InlineData("Edge.Proxy", "--Edge:Observability:AllFrameworkMetrics=yes", "error: Edge:Observability:AllFrameworkMetrics: 'yes' is not a valid Boolean (true or false)")]
    [InlineData("Edge.Proxy", "--Edge:ConfigPollInterval=500ms", "error: Edge:ConfigPollInterval: '500ms' is not a valid TimeSpan")]
    [InlineData("Edge.Proxy", "--Edge:ConfigPollInterval=-00:00:01", "error: Edge:ConfigPollInterval must be positive")]
    [InlineData("Edge.Proxy", "--Edge:Redis=,", "error: Edge:Redis names no endpoint")]
    [InlineData("Edge.Proxy", "--Edge:Redis=127.0.0.1:6379,password=inline-secret", "error: Edge:Redis holds a password inline (password=…); give the whole configuration string as a secret reference")]
    [InlineData("Edge.Proxy", "--Edge:ManagementToken=literal-token-0123456789", "error: Edge:ManagementToken must be a secret reference, env:NAME or file:/path, not the token itself")]
    [InlineData("Edge.Proxy", "--Edge:ManagementToken=env:" + UnsetVariable, "error: Edge:ManagementToken: environment variable '" + UnsetVariable + "' is not set or empty")]
    [InlineData("Edge.Proxy", "--Edge:ManagementHosts=http://edge-admin.internal", "error: Edge:ManagementHosts entry 'http://edge-admin.internal' is not a host name")]
    [InlineData("Edge.Proxy", "--Edge:IdentityHeaderPrefix=", "error: Edge:IdentityHeaderPrefix is empty")]
    [InlineData("Edge.Proxy", "--Edge:InstanceId=edge\u00a0one", "error: Edge:InstanceId must be a name without spaces")]
    [InlineData("Edge.Proxy", "--urls=http://127.0.0.1:{port} --Edge:ManagementUrls=http://127.0.0.1:{port}", "error: Edge:ManagementUrls uses port")]
    [InlineData("Edge.Proxy", "--Edge:Reids=127.0.0.1:6379", "error: Edge:Reids is not a host setting; did you mean Edge:Redis?")]
    [InlineData("Edge.Proxy", "--Edge:Audit:ShipIntervall=00:00:01", "error: Edge:Audit:ShipIntervall is not a host setting; did you mean Edge:Audit:ShipInterval?")]
    [InlineData("Edge.AuditWriter", "--Writer:Retention:Defualt=30.00:00:00", "error: Writer:Retention:Defualt is not a host setting; did you mean Writer:Retention:Default?")]
    [InlineData("Edge.AuditWriter", "--Writer:Autentication=auditors", "error: Writer:Autentication is not a host setting; did you mean Writer:Authentication?")]
    [InlineData("Edge.Proxy", "--Edge:Audit:SpoolDurability=Power", "error: Edge:Audit:SpoolDurability: 'Power' is not one of ProcessCrash, PowerLoss")]
    [InlineData("Edge.Proxy", "--Edge:RateLimits:p:Limit=5", "error: Edge:RateLimits belongs in proxy.json's Edge object")]
    [InlineData("Edge.Proxy", "--Edge:Audit:SpoolMaxBytes=0", "error: Edge:Audit:SpoolMaxBytes must be positive")]
    [InlineData("Edge.Proxy", "--Edge:Audit:SpoolCommitInterval=-00:00:00.100", "error: Edge:Audit:SpoolCommitInterval must not be negative")]
    [InlineData("Edge.Proxy", "--Edge:Audit:ShipInterval=-00:00:01", "error: Edge:Audit:ShipInterval must not be negative")]
    [InlineData("Edge.Proxy", "--Edge:Audit:WriterUrl= --Edge:Audit:LocalFile=/proc", "error: Edge:Audit:LocalFile: '/proc' cannot be opened for appending")]
    [InlineData("Edge.Proxy", "--Edge:Audit:WriterUrl=http://127.0.0.1:{port}/ --Edge:Audit:SpoolPath=/proc/version", "error: Edge:Audit:SpoolPath: the spool directory '/proc/version' cannot be used")]
    [InlineData("Edge.AuditWriter", "--Writer:StorePath=/proc/version", "error: Writer:StorePath: '/proc/version' cannot be opened as an audit store")]
    [InlineData("Edge.AuditWriter", "--Writer:Postgres=Host=127.0.0.1;Port={port};Username=edge;Timeout=2", "error: Writer:Postgres: the PostgreSQL store cannot be opened (Failed to connect to 127.0.0.1:")]
    [InlineData("Edge.Proxy", "--Edge:Audit:WriterUrl= --Edge:Audit:LocalQueueCapacity=0", "error: Edge:Audit:LocalQueueCapacity must be positive")]
    [InlineData("Edge.AuditWriter", "--Writer:CheckpointInterval=00:00:00", "error: Writer:CheckpointInterval must be a positive TimeSpan")]
    [InlineData("Edge.AuditWriter", "--Writer:CheckpointInterval=60.00:00:00", "error: Writer:CheckpointInterval must be at most 49.17:02:47.2940000")]
    [InlineData("Edge.AuditWriter", "--Writer:LeaseInterval=60.00:00:00", "error: Writer:LeaseInterval must be at most 49.17:02:47.2940000")]
    [InlineData("Edge.AuditWriter", "--Writer:Retention:Default=30.00:00:00 --Writer:Retention:Interval=60.00:00:00", "error: Writer:Retention:Interval must be at most 49.17:02:47.2940000")]
    [InlineData("Edge.AuditWriter", "--Writer:Retention:Default=365.00:00:00 --Writer:Retention:Tenants:acme=7d", "error: Writer:Retention:Tenants:acme: '7d' is not a valid TimeSpan")]
    [InlineData("Edge.AuditWriter", "--Writer:MaxIngestBytes=0", "error: Writer:MaxIngestBytes must be positive")]
    [InlineData("Edge.AuditWriter", "--Writer:MaxRecordBytes=0", "error: Writer:MaxRecordBytes must be positive")]
    [InlineData("Edge.AuditWriter", "--Writer:Origin=", "error: Writer:Origin must be a non-empty name without spaces")]
    [InlineData("Edge.AuditWriter", "--Writer:KeyPath=/dev/null", "error: Writer:KeyPath: '/dev/null' is not a checkpoint signing key")]
    [InlineData("Edge.AuditWriter", "--Writer:SubjectKeyPath=/dev/null", "error: Writer:SubjectKeyPath: the subject key at '/dev/null' must be 32 bytes")]
    [InlineData("Edge.AuditWriter", "--Writer:KeyPath=/proc", "error: Writer:KeyPath: no key at '/proc', and one cannot be created there")]
    [InlineData("Edge.AuditWriter", "--Writer:SubjectKeyPath=/proc", "error: Writer:SubjectKeyPath: no key at '/proc', and one cannot be created there")]
    [InlineData("Edge.AuditWriter", "--Writer:AdditionalKeyPaths:0=/nonexistent/old.key", "error: Writer:AdditionalKeyPaths: '/nonexistent/old.key' cannot be read")]
    [InlineData("Edge.AuditWriter", "--Writer:Origin=audit+edge", "error: Writer:Origin must be a non-empty name without spaces")]
    [InlineData("Edge.AuditWriter", "--Writer:CheckpointInterval=soon", "error: Writer:CheckpointInterval: 'soon' is not a valid TimeSpan")]
    [InlineData("Edge.Proxy", "--urls=18385", "error: urls entry '18385' is not a listener URL")]
    [InlineData("Edge.Proxy", "--urls=http://127.0.0.1:99999", "error: urls entry 'http://127.0.0.1:99999' has port 99999")]
    [InlineData("Edge.AuditWriter", "--urls=18385", "error: urls entry '18385' is not a listener URL")]
    [InlineData("Edge.Proxy", "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{port}", "would not listen: Kestrel:Endpoints is set")]
    [InlineData("Edge.AuditWriter", "--Writer:Authentication=demo-keys", "error: Writer:Authentication names 'demo-keys' but Writer:ProxyConfigPath is not set")]
    [InlineData("Edge.Proxy", "--urls=http://192.0.2.1:{port}", "error: cannot listen on an address given in --urls (or Edge:ManagementUrls): Cannot assign requested address")]
    [InlineData("Edge.AuditWriter", "--urls=http://192.0.2.1:{port}", "error: cannot listen on an address given in --urls (or Edge:ManagementUrls): Cannot assign requested address")]
    [InlineData("Edge.Proxy", "--Edge:ManagementUrls=http://127.0.0.1", "error: Edge:ManagementUrls entry 'http://127.0.0.1' must be an absolute URL with an explicit, non-zero port")]
    public async Task Main_BadHostSetting_ExitsOneNamingTheSettingWithoutStackTrace(string project, string setting, string expected)
    {
        var directory = Directory.CreateTempSubdirectory("edge-host-settings-").FullName;
        // Settings after the defaults override them; {port} is one free port, the same wherever it appears.
        string[] settings = setting.Replace("{port}", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal).Split(' ');
        try
        {
            var output = await RunRefusedAsync(project, directory, settings);

            Assert.Contains(expected, output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("--Writer:IngestToken=env:" + UnsetVariable)]
    [InlineData("--Writer:IngestToken=literal-ingest-token")]
    [InlineData("--Writer:Authentication=auditors --Writer:ProxyConfigPath=/nonexistent/proxy.json")]
    [InlineData("--Writer:Retention:Defualt=30.00:00:00")]
    public async Task Main_WriterRefusesAnAuthenticationSetting_CreatesNoStoreAndNoKeys(string setting)
    {
        // A writer that will not start must leave nothing behind: before, it created its store and both keys first, so a
        // typo in a secret reference on a fresh host left a new signing key (a new log identity) beside the intended one.
        var directory = Directory.CreateTempSubdirectory("edge-host-settings-").FullName;
        try
        {
            await RunRefusedAsync("Edge.AuditWriter", directory, setting.Split(' '));

            Assert.Equal(["proxy.json"], Directory.GetFileSystemEntries(directory).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// appsettings.json with two names in one object that differ only in case: configuration keys are case-insensitive,
    /// so one would be lost. The JSON provider refuses the file, and both hosts ended with the runtime's stack trace and
    /// exit 134 (checked by hand on 2026-12-07) instead of one line naming the file and the key.
    /// </summary>
    [Theory]
    [InlineData("Edge.Proxy")]
    [InlineData("Edge.AuditWriter")]
    public async Task Main_SettingsFileNamesDifferingInCase_ExitsOneNamingTheFileAndKey(string project)
    {
        var directory = Directory.CreateTempSubdirectory("edge-host-settings-case-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "appsettings.json"), """{ "Serilog": { "MinimumLevel": { "Default": "Information", "default": "Debug" } } }""");

            var output = await RunRefusedAsync(project, directory, [$"--contentRoot={directory}"]);

            Assert.Contains("appsettings.json: A duplicate key 'Serilog:MinimumLevel:default' was found.", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Starts the built <paramref name="project"/> (Edge.Proxy or Edge.AuditWriter) on free ports with its files in
    /// <paramref name="directory"/> and <paramref name="settings"/> last, which override the defaults; asserts it exits 1
    /// without a stack trace and returns what it printed.
    /// </summary>
    internal static async Task<string> RunRefusedAsync(string project, string directory, IReadOnlyList<string> settings)
    {
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, $$"""
            { "ReverseProxy": {
                "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" } } },
                "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{FreePort.Next()}}/" } } } } } }
            """);
        string[] args = project == "Edge.Proxy"
            ?
            [
                $"--urls=http://127.0.0.1:{FreePort.Next()}", $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next()}",
                $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
                $"--Edge:Audit:WriterUrl=http://127.0.0.1:{FreePort.Next()}", .. settings,
            ]
            :
            [
                $"--urls=http://127.0.0.1:{FreePort.Next()}", $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                .. settings,
            ];
        using var process = new ChildProcess(ChildProcess.BuildOutput(project), args);

        process.Start();
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, exitCode);
        Assert.DoesNotContain("Unhandled exception", process.RecentOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", process.RecentOutput, StringComparison.Ordinal);
        return process.RecentOutput;
    }

    [Theory]
    [InlineData("Edge.Proxy", "proxy", "error: Failed to bind to address http://127.0.0.1:{taken}: address already in use")]
    [InlineData("Edge.Proxy", "management", "error: Failed to bind to address http://127.0.0.1:{taken}: address already in use")]
    [InlineData("Edge.Proxy", "spool", "error: The audit spool directory '{spool}' is in use by another process")]
    [InlineData("Edge.AuditWriter", "proxy", "error: Failed to bind to address http://127.0.0.1:{taken}: address already in use")]
    [InlineData("Edge.DemoBackend", "proxy", "error: Failed to bind to address http://127.0.0.1:{taken}: address already in use")]
    public async Task Main_PortOrSpoolHeldByAnotherProcess_ExitsOneWithOneLineAndNoStackTrace(string project, string held, string expected)
    {
        // What a second ./run.sh (its demo backend starts first), or an edge started while another still runs, meets.
        // The host logged the failure with its stack trace (event 11, "Hosting failed to start") before the one line.
        var directory = Directory.CreateTempSubdirectory("edge-host-held-").FullName;
        var spool = Path.Combine(directory, "spool");
        Directory.CreateDirectory(spool);
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var taken = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        try
        {
            using var spoolLock = new FileStream(Path.Combine(spool, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            var configPath = Path.Combine(directory, "proxy.json");
            await File.WriteAllTextAsync(configPath, $$"""
                { "ReverseProxy": {
                    "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" } } },
                    "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{FreePort.Next()}}/" } } } } } }
                """);
            var proxyPort = held == "proxy" ? taken : FreePort.Next();
            var managementPort = held == "management" ? taken : FreePort.Next();
            string[] args = project switch
            {
                "Edge.Proxy" =>
                [
                    $"--urls=http://127.0.0.1:{proxyPort}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
                    $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:WriterUrl=http://127.0.0.1:{FreePort.Next()}",
                    $"--Edge:Audit:SpoolPath={(held == "spool" ? spool : Path.Combine(directory, "own-spool"))}",
                ],
                "Edge.AuditWriter" =>
                [
                    $"--urls=http://127.0.0.1:{proxyPort}", $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                    $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                ],
                _ => [$"--urls=http://127.0.0.1:{proxyPort}"],
            };
            using var process = new ChildProcess(ChildProcess.BuildOutput(project), args);

            process.Start();
            var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));

            Assert.True(exitCode == 1, $"exit code {exitCode}, output:\n{process.RecentOutput}");
            Assert.Contains(
                expected.Replace("{taken}", taken.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                    .Replace("{spool}", spool, StringComparison.Ordinal),
                process.RecentOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("Hosting failed to start", process.RecentOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", process.RecentOutput, StringComparison.Ordinal);
        }
        finally
        {
            listener.Stop();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Main_RefusedProxyJsonWithAWarning_LogsTheWarningAsAWarning()
    {
        var directory = Directory.CreateTempSubdirectory("edge-host-settings-").FullName;
        try
        {
            var configPath = Path.Combine(directory, "proxy.json");
            // One error (a route on a cluster that does not exist) and one warning (a {principal} key without authentication).
            await File.WriteAllTextAsync(configPath, $$"""
                { "ReverseProxy": {
                    "Routes": {
                      "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" }, "Transforms": [ { "EdgeRateLimit": "per-user" } ] },
                      "broken": { "ClusterId": "missing", "Match": { "Path": "/b/{**rest}" } } },
                    "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{FreePort.Next()}}/" } } } } },
                  "Edge": { "RateLimits": { "per-user": { "Limit": 10, "Key": "{principal}" } } } }
                """);
            using var process = new ChildProcess(ChildProcess.BuildOutput("Edge.Proxy"),
            [
                $"--urls=http://127.0.0.1:{FreePort.Next()}", $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next()}",
                $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
            ]);

            process.Start();
            var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
            var lines = process.RecentOutput.Split('\n');

            Assert.Equal(1, exitCode);
            var warning = Assert.Single(lines, l => l.Contains("every caller shares the anonymous partition", StringComparison.Ordinal) && l.Contains("\"@m\"", StringComparison.Ordinal));
            Assert.Contains("\"@l\":\"Warning\"", warning, StringComparison.Ordinal);
            Assert.Contains("warning at", warning, StringComparison.Ordinal);
            Assert.Contains(lines, l => l.Contains("\"@l\":\"Error\"", StringComparison.Ordinal) && l.Contains("missing", StringComparison.Ordinal));
            // The console formatter quotes a string property itself; the template's own quotes around it doubled them
            // (proxy.json '"/etc/edge/proxy.json"' invalid at …).
            Assert.DoesNotContain(lines, l => l.Contains("\"@m\":\"proxy.json '", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("\"@m\":\"proxy.json \\\"" + configPath.Replace("\\", "\\\\", StringComparison.Ordinal) + "\\\" invalid at", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
