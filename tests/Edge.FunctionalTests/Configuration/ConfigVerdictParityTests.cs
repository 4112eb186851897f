using System.Diagnostics;
using System.Text;
using Edge.Proxy;
using Edge.Proxy.Configuration;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// One file, three ways in, one verdict: <c>edge config validate FILE</c> run as its own process (exit code and the
/// error lines), a real edge started on the file, and a real running edge reloaded to it must all accept it or all
/// refuse it with the same located errors. A refused reload keeps the last good config serving.
/// </summary>
public sealed class ConfigVerdictParityTests
{
    private const string Route = """{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" } }""";
    private const string Cluster = """{ "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""";
    private const string Valid = $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} }, "Clusters": { "backend": {{Cluster}} } } }""";

    private static string WithRoute(string route, string? edge = null) =>
        $$"""{ "ReverseProxy": { "Routes": { "orders": {{route}} }, "Clusters": { "backend": {{Cluster}} } }{{(edge is null ? "" : ", \"Edge\": " + edge)}} }""";

    private static string WithCluster(string cluster) =>
        $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} }, "Clusters": { "backend": {{cluster}} } } }""";

    private static string WithWebhookSecret(string secret) => WithRoute(
        """{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeWebhook": "gh" } ] }""",
        $$"""{ "Webhooks": { "gh": { "Scheme": "GitHub", "Secrets": [ "{{secret}}" ] } } }""");

    private enum Layout
    {
        File,
        Directory,
        Missing,
        Fifo,
        ConfigMap,
    }

    private sealed record Case(Layout Layout, bool Accepted, Func<string, byte[]>? Content = null);

    private static Case Text(bool accepted, string text) => new(Layout.File, accepted, _ => Encoding.UTF8.GetBytes(text));

    private static readonly Dictionary<string, Case> Corpus = new(StringComparer.Ordinal)
    {
        ["valid"] = Text(true, Valid),
        ["empty-file"] = Text(false, ""),
        ["whitespace-only"] = Text(false, " \n\t "),
        ["empty-object"] = Text(false, "{}"),
        ["json-null"] = Text(false, "null"),
        ["json-array"] = Text(false, "[]"),
        ["only-edge-section"] = Text(false, """{ "Edge": { "Tenancy": { "ForwardHeader": "X-Edge-Tenant" } } }"""),
        ["no-routes"] = Text(false, $$"""{ "ReverseProxy": { "Routes": {}, "Clusters": { "backend": {{Cluster}} } } }"""),
        ["routes-null"] = Text(false, $$"""{ "ReverseProxy": { "Routes": null, "Clusters": { "backend": {{Cluster}} } } }"""),
        ["only-clusters"] = Text(false, $$"""{ "ReverseProxy": { "Clusters": { "backend": {{Cluster}} } } }"""),
        ["routes-without-clusters"] = Text(false, $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} } } }"""),
        ["route-missing-cluster"] = Text(false, WithRoute("""{ "ClusterId": "nowhere", "Match": { "Path": "/orders/{**rest}" } }""")),
        ["unknown-step"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/o/{**r}" }, "Transforms": [ { "EdgeTenantt": "Header" } ] }""")),
        ["unknown-property"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/o/{**r}" }, "Metdata": {} }""")),
        ["duplicate-key"] = Text(false, WithRoute("""{ "ClusterId": "backend", "ClusterId": "backend", "Match": { "Path": "/o/{**r}" } }""")),
        ["duplicate-route-id-case"] = Text(false, $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}}, "Orders": {{Route}} }, "Clusters": { "backend": {{Cluster}} } } }"""),
        ["comments-and-trailing-commas"] = Text(true, $$"""
            // the orders API
            { "ReverseProxy": { /* one route */ "Routes": { "orders": {{Route}}, }, "Clusters": { "backend": {{Cluster}}, }, }, }
            """),
        ["utf8-bom"] = new(Layout.File, true, _ => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Valid)]),
        ["utf16"] = new(Layout.File, false, _ => [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(Valid)]),
        ["utf16-without-bom"] = new(Layout.File, false, _ => Encoding.Unicode.GetBytes(Valid)),
        ["invalid-utf8"] = new(Layout.File, false, _ => [.. Encoding.UTF8.GetBytes("""{ "ReverseProxy": { "Routes": { "o"""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\": {} } } }")]),
        ["truncated-json"] = Text(false, Valid[..^3]),
        ["huge-number"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Order": 99999999999999999999999, "Match": { "Path": "/o/{**r}" } }""")),
        ["huge-body-size"] = Text(false, WithRoute("""{ "ClusterId": "backend", "MaxRequestBodySize": 1e400, "Match": { "Path": "/o/{**r}" } }""")),
        ["numeric-enum"] = Text(false, $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} }, "Clusters": { "backend": { "HttpRequest": { "VersionPolicy": 2 }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } } } } }"""),
        ["match-without-path-or-hosts"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": {} }""")),
        ["cluster-without-destinations"] = Text(true, $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} }, "Clusters": { "backend": { "Destinations": {} } } } }"""),
        ["edge-null"] = Text(true, $$"""{ "ReverseProxy": { "Routes": { "orders": {{Route}} }, "Clusters": { "backend": {{Cluster}} } }, "Edge": null }"""),
        ["edge-unknown-section"] = Text(false, WithRoute(Route, """{ "Redis": "localhost:6379" }""")),
        ["edge-policy-names-differ-in-case"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeRateLimit": "p" } ] }""", """{ "RateLimits": { "p": { "Limit": 1, "Window": "00:01:00", "Key": "{ip}" }, "P": { "Limit": 100, "Window": "00:01:00", "Key": "{ip}" } } }""")),
        ["tenant-header-request-id"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeTenant": "Header", "Name": "X-Request-Id" } ] }""")),
        ["rate-limit-key-forwarded-for"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeRateLimit": "p" } ] }""", """{ "RateLimits": { "p": { "Limit": 1, "Window": "00:01:00", "Key": "{header:X-Forwarded-For}" } } }""")),
        ["json-string"] = Text(false, "\"proxy\""),
        ["deep-nesting"] = Text(false, WithRoute(Route, """{ "Tenancy": """ + new string('[', 100) + new string(']', 100) + " }")),
        ["cluster-max-response-headers-zero"] = Text(false, WithCluster("""{ "HttpClient": { "MaxResponseHeadersLength": 0 }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-max-connections-zero"] = Text(false, WithCluster("""{ "HttpClient": { "MaxConnectionsPerServer": 0 }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-web-proxy-relative"] = Text(false, WithCluster("""{ "HttpClient": { "WebProxy": { "Address": "proxy.internal" } }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-http-version-unknown"] = Text(false, WithCluster("""{ "HttpRequest": { "Version": "9.9" }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-affinity-cookie-negative-expiry"] = Text(false, WithCluster("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Expiration": "-00:00:01" } }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-affinity-cookie-domain-control-character"] = Text(false, WithCluster("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Domain": "shop.example\r\nX-Injected: 1" } }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-health-path-without-slash"] = Text(false, WithCluster("""{ "HealthCheck": { "Active": { "Enabled": true, "Path": "health" } }, "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""")),
        ["cluster-address-with-fragment"] = Text(false, WithCluster("""{ "Destinations": { "d1": { "Address": "http://127.0.0.1:9/app#main" } } }""")),
        ["cluster-address-with-query"] = Text(false, WithCluster("""{ "Destinations": { "d1": { "Address": "http://127.0.0.1:9/app?tenant=acme" } } }""")),
        ["cluster-address-with-userinfo"] = Text(false, WithCluster("""{ "Destinations": { "d1": { "Address": "http://svc:hunter2@127.0.0.1:9/" } } }""")),
        ["validation-query-parameter-twice-case"] = Text(false, WithRoute(
            """{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeValidate": "q" } ] }""",
            """{ "Validation": { "q": { "Query": { "Parameters": { "dryRun": { "Pattern": "true|false" }, "DRYRUN": { "MaxLength": 100 } } } } } }""")),
        ["header-mode-two-names"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/o/{**r}", "Headers": [ { "Name": "X-Beta", "Mode": "HeaderPrefix, Contains", "Values": [ "yes" ] } ] } }""")),
        // Stripe | Slack names no scheme: the check passed it, a running edge refused it ("YARP refused the config: ").
        ["webhook-scheme-two-names"] = new(Layout.File, false, directory => Encoding.UTF8.GetBytes(WithRoute(
            """{ "ClusterId": "backend", "Match": { "Path": "/orders/{**rest}" }, "Transforms": [ { "EdgeWebhook": "gh" } ] }""",
            $$"""{ "Webhooks": { "gh": { "Scheme": "Stripe, Slack", "Secrets": [ "file:{{SecretFile(directory)}}" ] } } }"""))),
        ["method-change-not-a-method"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/o/{**r}" }, "Transforms": [ { "HttpMethodChange": "GET", "Set": "BAD METHOD" } ] }""")),
        ["match-hosts-only"] = Text(true, WithRoute("""{ "ClusterId": "backend", "Match": { "Hosts": [ "api.example.com" ] } }""")),
        ["invalid-path-pattern"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/orders/{id" } }""")),
        ["invalid-regex-constraint"] = Text(false, WithRoute("""{ "ClusterId": "backend", "Match": { "Path": "/orders/{id:regex(([a-z)}" } }""")),
        ["secret-env-unset"] = Text(false, WithWebhookSecret("env:EDGE_VERDICT_PARITY_UNSET_4C1E")),
        ["secret-file-missing"] = Text(false, WithWebhookSecret("file:/nonexistent/edge-verdict-parity-secret")),
        ["secret-file-resolves"] = new(Layout.File, true, directory => Encoding.UTF8.GetBytes(WithWebhookSecret("file:" + SecretFile(directory)))),
        ["secret-file-empty"] = new(Layout.File, false, directory => Encoding.UTF8.GetBytes(WithWebhookSecret("file:" + EmptyFile(directory)))),
        ["secret-file-is-directory"] = new(Layout.File, false, directory => Encoding.UTF8.GetBytes(WithWebhookSecret("file:" + directory))),
        ["secret-inline"] = Text(false, WithWebhookSecret("an-inline-webhook-secret-value-0123456789")),
        ["path-is-directory"] = new(Layout.Directory, false),
        ["file-deleted"] = new(Layout.Missing, false),
        ["path-is-named-pipe"] = new(Layout.Fifo, false),
        ["over-size-cap"] = new(Layout.File, false, _ => [.. Encoding.UTF8.GetBytes(Valid), .. Enumerable.Repeat((byte)' ', BoundedFile.MaxConfigBytes)]),
        ["utf16-big-endian"] = new(Layout.File, false, _ => [0xFE, 0xFF, .. Encoding.BigEndianUnicode.GetBytes(Valid)]),
        ["configmap-swap-valid"] = new(Layout.ConfigMap, true, _ => Encoding.UTF8.GetBytes(Valid)),
        ["configmap-swap-broken"] = new(Layout.ConfigMap, false, _ => Encoding.UTF8.GetBytes(Valid[..^3])),
        // A version folder without the file: ..data then leads nowhere.
        ["configmap-swap-file-missing"] = new(Layout.ConfigMap, false),
    };

    public static TheoryData<string> Files() => [.. Corpus.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Verdict_CorpusFile_SameForValidateStartAndReload(string name)
    {
        var @case = Corpus[name];
        using var directory = new TempDirectory();

        var cli = await ValidateWithCliAsync(Place(@case, directory.Sub("cli")));
        var start = await StartAsync(Place(@case, directory.Sub("start")), directory.Sub("start-state"));
        var (reload, lastGoodServes) = await ReloadAsync(@case, directory.Sub("reload"));

        Assert.Equal(cli.Render(), start.Render());
        Assert.Equal(start.Render(), reload.Render());
        Assert.Equal(@case.Accepted, cli.Accepted);
        Assert.True(@case.Accepted || lastGoodServes, "a refused reload must keep the last good config serving");
    }

    private sealed record Verdict(bool Accepted, IReadOnlyList<string> Lines)
    {
        public string Render() => (Accepted ? "accepted" : "refused") + "\n" + string.Join("\n", Lines);
    }

    /// <summary>Each way reads its own copy of the case: the copy's folder, named in messages, is written as &lt;dir&gt;.</summary>
    private static Verdict FromErrors(bool accepted, IEnumerable<ConfigError> problems, string directory) =>
        new(accepted, [.. problems.Where(p => accepted || !p.IsWarning).Select(p => p.ToString().Replace(directory, "<dir>", StringComparison.Ordinal))]);

    private static string SecretFile(string directory)
    {
        var path = Path.Combine(directory, "webhook-secret");
        File.WriteAllText(path, "a-webhook-secret-from-a-file-0123456789\n");
        return path;
    }

    private static string EmptyFile(string directory)
    {
        var path = Path.Combine(directory, "empty-secret");
        File.WriteAllText(path, "");
        return path;
    }

    /// <summary>Lays the case out under <paramref name="directory"/> and returns the path the three ways are given.</summary>
    private static string Place(Case @case, string directory)
    {
        var path = Path.Combine(directory, "proxy.json");
        switch (@case.Layout)
        {
            case Layout.File:
                File.WriteAllBytes(path, @case.Content!(directory));
                break;
            case Layout.Directory:
                Directory.CreateDirectory(path);
                break;
            case Layout.Fifo:
                MakeFifo(path);
                break;
            case Layout.ConfigMap:
                return ConfigMap(directory, @case.Content?.Invoke(directory));
        }

        return path;
    }

    /// <summary>A ConfigMap volume as the kubelet lays it out: proxy.json -> ..data/proxy.json, ..data -> a versioned folder.</summary>
    private static string ConfigMap(string mount, byte[]? content)
    {
        var version = "..v" + Directory.GetDirectories(mount, "..v*").Length;
        Directory.CreateDirectory(Path.Combine(mount, version));
        if (content is not null)
        {
            File.WriteAllBytes(Path.Combine(mount, version, "proxy.json"), content);
        }

        var data = Path.Combine(mount, "..data");
        if (!Path.Exists(data))
        {
            Directory.CreateSymbolicLink(data, version);
            File.CreateSymbolicLink(Path.Combine(mount, "proxy.json"), "..data/proxy.json");
        }
        else
        {
            // The kubelet's update: a new link renamed over ..data in one step.
            Directory.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), version);
            using var rename = Process.Start("mv", ["-T", Path.Combine(mount, "..data_tmp"), data]);
            rename.WaitForExit();
            Assert.Equal(0, rename.ExitCode);
        }

        return Path.Combine(mount, "proxy.json");
    }

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    private static async Task<Verdict> ValidateWithCliAsync(string path)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { CliAssembly, "config", "validate", path },
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode is 0 or 1, $"edge config validate exited {process.ExitCode}: {await error}");
        var lines = (await error + await output).Split('\n')
            .Where(line => line.StartsWith("error at ", StringComparison.Ordinal) || (process.ExitCode == 0 && line.StartsWith("warning at ", StringComparison.Ordinal)));
        return new(process.ExitCode == 0, [.. lines.Select(line => line.Replace(Path.GetDirectoryName(path)!, "<dir>", StringComparison.Ordinal))]);
    }

    private static async Task<Verdict> StartAsync(string path, string state)
    {
        await using var app = Create(path, state);
        try
        {
            await app.StartAsync();
        }
        catch (EdgeConfigException refused)
        {
            return FromErrors(false, refused.Errors, Path.GetDirectoryName(path)!);
        }

        var warnings = app.Services.GetRequiredService<EdgeConfigState>().Warnings;
        await app.StopAsync();
        return FromErrors(true, warnings, Path.GetDirectoryName(path)!);
    }

    /// <summary>Starts an edge on a good config of another route, then puts the case in its place and reloads.</summary>
    private static async Task<(Verdict Verdict, bool LastGoodServes)> ReloadAsync(Case @case, string directory)
    {
        var proxyPort = FreePort.Next();
        var managementPort = FreePort.Next();
        var good = $$"""
            { "ReverseProxy": {
                "Routes": { "last-good": { "ClusterId": "management", "Match": { "Path": "/last-good" }, "Transforms": [ { "PathSet": "/healthz" } ] } },
                "Clusters": { "management": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{managementPort}}/" } } } } } }
            """;
        var path = @case.Layout == Layout.ConfigMap
            ? ConfigMap(directory, Encoding.UTF8.GetBytes(good))
            : Place(new Case(Layout.File, true, _ => Encoding.UTF8.GetBytes(good)), directory);
        await using var app = Create(path, Path.Combine(directory, "state"), proxyPort, managementPort);
        await app.StartAsync();
        var state = app.Services.GetRequiredService<EdgeConfigState>();
        Assert.Equal(1, state.Serving.Revision);

        switch (@case.Layout)
        {
            case Layout.File:
                // Renamed over proxy.json, as a deploy tool writes it: the watcher never sees half a file.
                var next = Path.Combine(directory, "proxy.json.next");
                await File.WriteAllBytesAsync(next, @case.Content!(directory));
                File.Move(next, path, overwrite: true);
                break;
            case Layout.Directory:
                File.Delete(path);
                Directory.CreateDirectory(path);
                break;
            case Layout.Missing:
                File.Delete(path);
                break;
            case Layout.Fifo:
                File.Delete(path);
                MakeFifo(path);
                break;
            case Layout.ConfigMap:
                ConfigMap(directory, @case.Content?.Invoke(directory));
                break;
        }

        // The watcher may have reloaded already; this call then finds nothing new, and the outcome is the watcher's.
        await ((FileProxyConfigProvider)app.Services.GetRequiredService<IProxyConfigProvider>()).ReloadAsync();

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}") };
        using var response = await client.GetAsync("/last-good");
        var lastGoodServes = state.Serving.Revision == 1 && response.IsSuccessStatusCode;
        var verdict = state.Serving.Revision > 1
            ? FromErrors(true, state.Warnings, directory)
            : FromErrors(false, state.Outcome.LastAttemptRefused ? state.Outcome.LastRefusal!.Errors : [], directory);
        await app.StopAsync();
        return (verdict, lastGoodServes);
    }

    private static Microsoft.AspNetCore.Builder.WebApplication Create(string path, string state, int? proxyPort = null, int? managementPort = null) =>
        EdgeApplication.Create(
        [
            $"--urls=http://127.0.0.1:{proxyPort ?? FreePort.Next()}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort ?? FreePort.Next()}",
            $"--Edge:ProxyConfigPath={path}",
            $"--Edge:Audit:SpoolPath={Path.Combine(state, "spool")}",
        ]);

    /// <summary>The CLI this test run was built with (Debug or Release, as the test assembly).</summary>
    private static string CliAssembly
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var framework = testBin.Name;
            var configuration = testBin.Parent!.Name;
            var root = testBin;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Edge.sln")))
            {
                root = root.Parent;
            }

            var cli = Path.Combine(root!.FullName, "src", "Edge.Cli", "bin", configuration, framework, "edge.dll");
            Assert.True(File.Exists(cli), $"{cli} is not built");
            return cli;
        }
    }

    private sealed class TempDirectory : IDisposable
    {
        private readonly string _path = Directory.CreateTempSubdirectory("edge-verdict-").FullName;

        public string Sub(string name) => Directory.CreateDirectory(Path.Combine(_path, name)).FullName;

        public void Dispose() => Directory.Delete(_path, recursive: true);
    }
}
