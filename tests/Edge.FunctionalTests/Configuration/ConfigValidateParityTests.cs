using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Edge.Proxy;
using Edge.Proxy.Configuration;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// <c>edge config validate</c> (<see cref="ProxyConfigFileValidator"/>, no Edge.Proxy) must report exactly what a
/// starting edge refuses: the same errors at the same locations in the same order, and the same warnings for a config
/// the edge serves. Each case starts a real edge host on the file.
/// </summary>
public sealed partial class ConfigValidateParityTests
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

    public static TheoryData<string> ShippedConfigs()
    {
        var data = new TheoryData<string> { "proxy.json" };
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryRoot, "load", "bench"), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(RepositoryRoot, file));
        }

        return data;
    }

    public static TheoryData<string> BrokenVariants() => [.. Variants.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(ShippedConfigs))]
    public async Task ValidateAsync_ShippedConfig_SameResultAsEdgeStart(string relativePath)
    {
        using var directory = new TempDirectory();
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot, relativePath));
        var path = directory.Write("proxy.json", WithFileSecrets(text, directory));

        var (cli, edge) = await ValidateBothAsync(path, directory);

        Assert.Equal(Render(cli), Render(edge));
    }

    [Theory]
    [MemberData(nameof(BrokenVariants))]
    public async Task ValidateAsync_BrokenVariant_SameErrorsAsEdgeStart(string variant)
    {
        using var directory = new TempDirectory();
        var root = JsonNode.Parse(WithFileSecrets(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot, "proxy.json")), directory))!;
        var text = Variants[variant](root);
        var path = directory.Write("proxy.json", text);

        var (cli, edge) = await ValidateBothAsync(path, directory);

        Assert.Contains(cli, e => !e.IsWarning);
        Assert.Equal(Render(cli), Render(edge));
    }

    [Theory]
    [InlineData("missing-file")]
    [InlineData("missing-folder")]
    [InlineData("a-folder")]
    public async Task ValidateAsync_FileNotReadable_SameErrorAsEdgeStart(string variant)
    {
        using var directory = new TempDirectory();
        var path = variant switch
        {
            "missing-file" => System.IO.Path.Combine(directory.Path, "proxy.json"),
            "missing-folder" => System.IO.Path.Combine(directory.Path, "no-such-folder", "proxy.json"),
            _ => directory.Path,
        };

        var (cli, edge) = await ValidateBothAsync(path, directory);

        Assert.Contains(cli, e => !e.IsWarning);
        Assert.Equal(Render(cli), Render(edge));
    }

    [Fact]
    public async Task ValidateAsync_ServedConfigWithWarnings_SameWarningsAsEdge()
    {
        using var directory = new TempDirectory();
        var root = JsonNode.Parse(WithFileSecrets(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot, "proxy.json")), directory))!;
        Route(root, "public")["Transforms"]!.AsArray().Add(new JsonObject { ["EdgeRateLimit"] = "per-tenant-user" });
        Route(root, "secure-admin")["Transforms"]!.AsArray().Add(new JsonObject { ["EdgeRequire"] = "reports.export" });
        var path = directory.Write("proxy.json", root.ToJsonString());

        var (cli, edge) = await ValidateBothAsync(path, directory);

        Assert.DoesNotContain(cli, e => !e.IsWarning);
        Assert.Contains(cli, w => w.Location == "ReverseProxy:Routes:public:Transforms[2]:EdgeRateLimit");
        Assert.Contains(cli, w => w.Location == "ReverseProxy:Routes:secure-admin:Transforms[2]:EdgeRequire");
        Assert.Equal(Render(cli), Render(edge));
    }

    [Fact]
    public async Task ShippedProxyJson_PaymentsWithoutApprovalToken_Answers428AndTheDemoApproverCanApprove()
    {
        using var directory = new TempDirectory();
        var path = directory.Write("proxy.json", WithFileSecrets(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot, "proxy.json")), directory));
        var proxyPort = FreePort.Next();
        await using var app = EdgeApplication.Create(
        [
            $"--urls=http://127.0.0.1:{proxyPort}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next()}",
            $"--Edge:ProxyConfigPath={path}",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory.Path, "spool")}",
            $"--Edge:Audit:LocalFile={Path.Combine(directory.Path, "audit-decisions.ndjson")}",
        ]);
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}") };

        // The demo keys of README.md and docs/approvals.md: partner-a requests, approver-acme approves.
        using var payment = new HttpRequestMessage(HttpMethod.Post, "/payments/transfer")
        {
            Content = new StringContent("{\"amount\":100,\"to\":\"DE89\"}", System.Text.Encoding.UTF8, "application/json"),
        };
        payment.Headers.Add("X-Tenant-ID", "acme");
        payment.Headers.Add("X-Api-Key", "demo-partner-key-acme-0001");
        using var held = await client.SendAsync(payment);
        var problem = JsonNode.Parse(await held.Content.ReadAsStringAsync())!;
        using var pending = new HttpRequestMessage(HttpMethod.Get, "/_edge/approvals?status=pending");
        pending.Headers.Add("X-Api-Key", "demo-approver-key-acme-0001");
        using var listed = await client.SendAsync(pending);
        var approvals = JsonNode.Parse(await listed.Content.ReadAsStringAsync())!["approvals"]!.AsArray();
        using var approve = new HttpRequestMessage(HttpMethod.Post, $"/_edge/approvals/{(string?)problem["approvalId"]}/approve");
        approve.Headers.Add("X-Api-Key", "demo-approver-key-acme-0001");
        using var approved = await client.SendAsync(approve);
        var decision = JsonNode.Parse(await approved.Content.ReadAsStringAsync())!;
        await app.StopAsync();

        Assert.Equal(System.Net.HttpStatusCode.PreconditionRequired, held.StatusCode);
        Assert.Equal("application/problem+json", held.Content.Headers.ContentType?.MediaType);
        Assert.Equal("approval_required", (string?)problem["code"]);
        var approvalId = (string?)problem["approvalId"];
        Assert.False(string.IsNullOrEmpty(approvalId));
        Assert.Equal(System.Net.HttpStatusCode.OK, listed.StatusCode);
        var approval = Assert.Single(approvals, a => (string?)a!["id"] == approvalId)!;
        Assert.Equal("payments", (string?)approval["policy"]);
        Assert.Equal("partner-a", (string?)approval["requester"]);
        Assert.Equal("acme", (string?)approval["tenant"]);
        Assert.Equal(System.Net.HttpStatusCode.OK, approved.StatusCode);
        Assert.False(string.IsNullOrEmpty((string?)decision["token"]));
    }

    private static readonly Dictionary<string, Func<JsonNode, string>> Variants = new(StringComparer.Ordinal)
    {
        ["json-syntax"] = root => root.ToJsonString()[..^1],
        ["edge-unknown-section"] = root => Mutate(root, r => r["Edge"]!["Quarantine"] = new JsonObject()),
        ["step-unknown"] = root => Mutate(root, r => Transforms(r, "orders").Add(new JsonObject { ["EdgeThreatScan"] = "on" })),
        ["tenant-bad-source-and-claim-order"] = root => Mutate(root, r =>
        {
            Transforms(r, "orders")[0] = new JsonObject { ["EdgeTenant"] = "Cookie" };
            Transforms(r, "tenant-by-path")[0] = new JsonObject { ["EdgeTenant"] = "Claim", ["Name"] = "tid" };
            r["Edge"]!["Tenancy"]!["ForwardHeader"] = "Bad Header";
        }),
        ["authenticate-unknown-policy-twice"] = root => Mutate(root, r =>
        {
            Transforms(r, "secure-admin")[0] = new JsonObject { ["EdgeAuthenticate"] = "nope", ["SignIdentity"] = "maybe" };
            Transforms(r, "secure-orders").Insert(2, new JsonObject { ["EdgeAuthenticate"] = "demo-jwt" });
        }),
        ["require-without-authenticate"] = root => Mutate(root, r =>
        {
            Transforms(r, "public").Add(new JsonObject { ["EdgeRequire"] = "orders.read", ["Mode"] = "Some" });
            Transforms(r, "public").Add(new JsonObject { ["EdgeRequireClaim"] = "maturity", ["Color"] = "x" });
        }),
        ["ratelimit-undefined-and-invalid-policy"] = root => Mutate(root, r =>
        {
            Transforms(r, "public")[1] = new JsonObject { ["EdgeRateLimit"] = "missing" };
            r["Edge"]!["RateLimits"]!["per-ip"]!["Limit"] = 0;
            r["Edge"]!["RateLimits"]!["per-ip"]!["Algorithm"] = "Leaky";
            r["Edge"]!["RateLimits"]!["per-sender"]!["Key"] = "{tenant}:{cookie}";
        }),
        ["route-ratelimiter-policy"] = root => Mutate(root, r =>
        {
            Route(r, "orders")["RateLimiterPolicy"] = "per-tenant-user";
            Route(r, "public")["RateLimiterPolicy"] = "not-defined";
        }),
        ["webhook-undefined-twice-and-bad-policy"] = root => Mutate(root, r =>
        {
            Transforms(r, "github-webhook").Insert(2, new JsonObject { ["EdgeWebhook"] = "gitlab" });
            r["Edge"]!["Webhooks"]!["bad"] = new JsonObject { ["Scheme"] = "Gitlab", ["Secrets"] = new JsonArray() };
            r["Edge"]!["Webhooks"]!["github-demo"]!["Tolerance"] = "02:00:00";
        }),
        ["authentication-and-roles-section"] = root => Mutate(root, r =>
        {
            r["Edge"]!["Authentication"]!["demo-jwt"]!["Algorithms"] = new JsonArray("none");
            r["Edge"]!["Authentication"]!["demo-keys"]!["Keys"]![0]!["Sha256"] = "abc";
            r["Edge"]!["Roles"]!["Bad Role"] = new JsonArray("x y");
        }),
        ["route-metadata-and-cluster"] = root => Mutate(root, r =>
        {
            Route(r, "orders")["Metadata"] = new JsonObject { ["EdgeAudit"] = "Sometimes", ["EdgeAllowTrace"] = "perhaps" };
            Route(r, "public")["ClusterId"] = "nowhere";
            Route(r, "secure-admin").Remove("ClusterId");
        }),
        ["yarp-route-and-cluster-rules"] = root => Mutate(root, r =>
        {
            Route(r, "orders")["Match"] = new JsonObject();
            Route(r, "public")["Transforms"]!.AsArray().Add(new JsonObject { ["NotATransform"] = "x" });
            r["ReverseProxy"]!["Clusters"]!["demo"]!["LoadBalancingPolicy"] = "Nope";
            r["ReverseProxy"]!["Clusters"]!["demo"]!["HealthCheck"] = new JsonObject { ["Active"] = new JsonObject { ["Enabled"] = true, ["Interval"] = "-00:00:01" } };
        }),
        ["destination-address-without-scheme"] = root => Mutate(root, r =>
            r["ReverseProxy"]!["Clusters"]!["demo"]!["Destinations"]!["d1"]!["Address"] = "127.0.0.1:5100"),
        ["yarp-named-policies"] = root => Mutate(root, r =>
        {
            Route(r, "orders")["AuthorizationPolicy"] = "custom-authz";
            Route(r, "orders")["CorsPolicy"] = "custom-cors";
            Route(r, "public")["TimeoutPolicy"] = "custom-timeout";
            Route(r, "public")["OutputCachePolicy"] = "custom-cache";
            Route(r, "tenant-by-path")["RateLimiterPolicy"] = "disable";
        }),
        ["secrets-unresolvable"] = root => Mutate(root, r =>
        {
            r["Edge"]!["Webhooks"]!["github-demo"]!["Secrets"] = new JsonArray("env:EDGE_PARITY_UNSET_VARIABLE_9F2C");
            r["Edge"]!["Authentication"]!["demo-jwt"]!["SigningKey"] = "file:/nonexistent/edge-parity-key";
            r["Edge"]!["Authentication"]!["demo-keys"]!["IdentitySigningKey"] = "plain-text-secret";
        }),
    };

    private static string Mutate(JsonNode root, Action<JsonNode> change)
    {
        change(root);
        return root.ToJsonString();
    }

    private static JsonObject Route(JsonNode root, string id) => root["ReverseProxy"]!["Routes"]![id]!.AsObject();

    private static JsonArray Transforms(JsonNode root, string id) => Route(root, id)["Transforms"]!.AsArray();

    private static async Task<(IReadOnlyList<ConfigError> Cli, IReadOnlyList<ConfigError> Edge)> ValidateBothAsync(string path, TempDirectory directory)
    {
        var cli = await ProxyConfigFileValidator.ValidateAsync(path);

        await using var app = EdgeApplication.Create(
        [
            $"--urls=http://127.0.0.1:{FreePort.Next()}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next()}",
            $"--Edge:ProxyConfigPath={path}",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory.Path, "spool")}",
        ]);
        try
        {
            await app.StartAsync();
        }
        catch (EdgeConfigException refused)
        {
            return (cli.Where(e => !e.IsWarning).ToList(), refused.Errors);
        }

        var warnings = app.Services.GetRequiredService<EdgeConfigState>().Warnings;
        await app.StopAsync();
        return (cli, warnings);
    }

    private static string Render(IEnumerable<ConfigError> errors) => string.Join("\n", errors.Select(e => e.ToString()));

    /// <summary>
    /// The shipped configs name their secrets as <c>env:NAME</c>; each is pointed at a file holding the demo value of
    /// config/.env.example, so a shipped config is served (and its warnings compared) without touching this
    /// process's environment, which other tests share.
    /// </summary>
    private static string WithFileSecrets(string text, TempDirectory directory)
    {
        // proxy.json names its validation schemas relative to its own folder: the copy gets them beside it too.
        var schemas = System.IO.Path.Combine(RepositoryRoot, "config", "schemas");
        Directory.CreateDirectory(System.IO.Path.Combine(directory.Path, "config", "schemas"));
        foreach (var schema in Directory.GetFiles(schemas))
        {
            directory.Write(System.IO.Path.Combine("config", "schemas", System.IO.Path.GetFileName(schema)), File.ReadAllText(schema));
        }

        var samples = File.ReadAllLines(Path.Combine(RepositoryRoot, "config", ".env.example"))
            .Where(line => line.Length > 0 && line[0] != '#' && line.Contains('='))
            .Select(line => line.Split('=', 2))
            .ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim(), StringComparer.Ordinal);
        return EnvReference().Replace(text, match =>
        {
            var name = match.Groups["name"].Value;
            return samples.TryGetValue(name, out var value) ? "file:" + directory.Write("secret-" + name, value) : match.Value;
        });
    }

    [GeneratedRegex("env:(?<name>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex EnvReference();

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above the test directory.");
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("edge-parity-").FullName;

        public string Write(string name, string content)
        {
            var file = System.IO.Path.Combine(Path, name);
            File.WriteAllText(file, content);
            return file;
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
