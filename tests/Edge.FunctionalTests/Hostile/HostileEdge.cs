using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Audit.Storage;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Protection;
using Edge.AuditWriter.Tests;
using Microsoft.Extensions.DependencyInjection;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// One edge in front of a WireMock backend, shipping its audit records to a real audit writer, with a route for each
/// kind of decision a hostile client can provoke. Tests look records up in the writer's store by request id and read
/// them as the writer's read API does (subject decrypted with the writer's keys).
/// </summary>
public class HostileEdge : IAsyncLifetime
{
    public const string WebhookPath = "/hooks/github";

    /// <summary>
    /// A signature header (that does not verify) for raw requests to <see cref="WebhookPath"/> that test the body read: a
    /// delivery without one is refused on its headers, before any of its body is read.
    /// </summary>
    public const string UnverifiedSignatureHeader = "X-Hub-Signature-256: sha256=0000000000000000000000000000000000000000000000000000000000000000\r\n";

    /// <summary>A route whose only destination is a loopback port nobody listens on: every call is refused.</summary>
    public const string DeadBackendPath = "/dead-backend/";
    /// <summary>A route that authenticates with an API key, then checks a GitHub signature over the body (cap 1,024 bytes).</summary>
    public const string SignedKeysPath = "/signed-keys/";
    public const string GitHubSecret = "hostile-suite-github-secret";
    public const string ViewerKey = "hostile-viewer-key-5f1e";

    private readonly string _secretVariable = "EDGE_HOSTILE_GITHUB_" + Guid.NewGuid().ToString("N");
    private readonly string _tokenVariable = "EDGE_HOSTILE_INGEST_" + Guid.NewGuid().ToString("N");

    public Backend Backend { get; private set; } = null!;

    public WriterFixture Writer { get; private set; } = null!;

    public EdgeHost Edge { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, GitHubSecret);
        Environment.SetEnvironmentVariable(_tokenVariable, "hostile-ingest-token-0123456789");
        Backend = Backend.Start();
        Writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{_tokenVariable}"]);
        var settings = new Dictionary<string, string?>(HostSettings)
        {
            ["Edge:Audit:WriterUrl"] = Writer.BaseAddress.ToString(),
            ["Edge:Audit:IngestToken"] = $"env:{_tokenVariable}",
        };
        Edge = await EdgeHost.StartAsync(ProxyJsonFor(Backend.Url), settings);
    }

    /// <summary>Extra host settings (<c>Edge:…</c>) of a variant of this edge.</summary>
    protected virtual IReadOnlyDictionary<string, string?> HostSettings { get; } = new Dictionary<string, string?>();

    public async Task DisposeAsync()
    {
        await Edge.DisposeAsync();
        await Writer.DisposeAsync();
        Backend.Dispose();
        Environment.SetEnvironmentVariable(_secretVariable, null);
        Environment.SetEnvironmentVariable(_tokenVariable, null);
    }

    /// <summary>Backend requests whose path starts with <paramref name="pathPrefix"/>; each test uses its own prefix.</summary>
    public int BackendCalls(string pathPrefix) =>
        Backend.Received.Count(e => e.RequestMessage?.Path?.StartsWith(pathPrefix, StringComparison.Ordinal) == true);

    /// <summary>The audit record's <c>data</c> object for <paramref name="requestId"/>, once the writer has stored it.</summary>
    public async Task<JsonElement> AuditDataAsync(string requestId) =>
        (await WaitForRecordAsync(r => r.Id == requestId, $"record {requestId}")).GetProperty("data");

    /// <summary>The <c>data</c> object of the first audit record that <paramref name="match"/> accepts.</summary>
    public async Task<JsonElement> AuditDataWhereAsync(Func<JsonElement, bool> match, string what) =>
        (await WaitForRecordAsync(r => r.Route is not null && match(JsonDocument.Parse(r.Leaf).RootElement.GetProperty("data")), what)).GetProperty("data");

    /// <summary>The <c>data</c> object of the first audit record, with or without a route, that <paramref name="match"/> accepts.</summary>
    public async Task<JsonElement> AnyAuditDataWhereAsync(Func<JsonElement, bool> match, string what) =>
        (await WaitForRecordAsync(r => JsonDocument.Parse(r.Leaf).RootElement.TryGetProperty("data", out var data) && match(data), what)).GetProperty("data");

    private async Task<JsonElement> WaitForRecordAsync(Func<StoredRecord, bool> match, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(Writer.StorePath))
            {
                using var store = AuditStore.OpenReadOnly(Writer.StorePath);
                var record = store.Export(new RecordQuery()).FirstOrDefault(match);
                if (record is not null)
                {
                    var log = Writer.Services.GetRequiredService<AuditLog>();
                    var (readable, _) = SubjectProtector.Reveal(record.Leaf, record.Id, record.SubjectId is { } subject ? log.DataKey(subject) : null);
                    return JsonDocument.Parse(readable.ToJsonString()).RootElement.Clone();
                }
            }

            await Task.Delay(100);
        }

        var stored = "";
        if (File.Exists(Writer.StorePath))
        {
            using var store = AuditStore.OpenReadOnly(Writer.StorePath);
            stored = string.Join("\n", store.Export(new RecordQuery()).Where(r => r.Route is not null).TakeLast(5).Select(r => Encoding.UTF8.GetString(r.Leaf)));
        }

        throw new TimeoutException($"The audit writer did not store the {what} within 15 s. Last records:\n{stored}");
    }

    private string ProxyJsonFor(string backendUrl)
    {
        static Dictionary<string, string> Step(string name, string value, params (string Key, string Value)[] extra)
        {
            var step = new Dictionary<string, string> { [name] = value };
            foreach (var (key, v) in extra)
            {
                step[key] = v;
            }

            return step;
        }

        var tenant = Step("EdgeTenant", "Header", ("Name", "X-Tenant-ID"));
        var traceRoute = ProxyJson.Route("/trace-ok/{**rest}");
        ((Dictionary<string, object>)traceRoute)["Metadata"] = new Dictionary<string, string> { ["EdgeAllowTrace"] = "true" };
        var getOnly = ProxyJson.Route("/get-only/{**rest}");
        ((Dictionary<string, object>)getOnly)["Match"] = new { Path = "/get-only/{**rest}", Methods = new[] { "GET", "TRACE" } };

        var document = ProxyJson.Create(
            backendUrl,
            new Dictionary<string, object>
            {
                ["open"] = ProxyJson.Route("/open/{**rest}"),
                ["trace-ok"] = traceRoute,
                ["get-only"] = getOnly,
                ["tenant"] = ProxyJson.Route("/tenant/{**rest}", tenant),
                ["limited"] = ProxyJson.Route("/limited/{**rest}", Step("EdgeRateLimit", "one-per-ip")),
                ["github"] = ProxyJson.Route(WebhookPath, Step("EdgeWebhook", "github")),
                ["keys"] = ProxyJson.Route(
                    "/keys/{**rest}", Step("EdgeAuthenticate", "partner-keys"), Step("EdgeRequire", "orders.write")),
                ["signed-keys"] = ProxyJson.Route(
                    SignedKeysPath + "{**rest}", Step("EdgeAuthenticate", "partner-keys"), Step("EdgeWebhook", "github")),
            },
            new
            {
                RateLimits = new Dictionary<string, object> { ["one-per-ip"] = new { Limit = 1, Window = "00:10:00", Key = "{ip}" } },
                Webhooks = new Dictionary<string, object>
                {
                    ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable }, MaxBodyBytes = 1024 },
                },
                Authentication = new Dictionary<string, object>
                {
                    ["partner-keys"] = new
                    {
                        Type = "ApiKey",
                        Keys = new object[] { new { Sha256 = Sha256Hex(ViewerKey), Principal = "viewer-1", Tenant = "acme", Roles = new[] { "Viewer" } } },
                    },
                },
                Roles = new Dictionary<string, string[]> { ["Viewer"] = ["orders.read"] },
            });

        var root = System.Text.Json.Nodes.JsonNode.Parse(document)!;
        var proxy = root["ReverseProxy"]!;
        proxy["Clusters"]!["dead"] = new System.Text.Json.Nodes.JsonObject
        {
            ["Destinations"] = new System.Text.Json.Nodes.JsonObject
            {
                ["d1"] = new System.Text.Json.Nodes.JsonObject { ["Address"] = $"http://127.0.0.1:{FreePort.Next()}/" },
            },
        };
        proxy["Routes"]!["dead"] = new System.Text.Json.Nodes.JsonObject
        {
            ["ClusterId"] = "dead",
            ["Match"] = new System.Text.Json.Nodes.JsonObject { ["Path"] = DeadBackendPath + "{**rest}" },
        };
        return root.ToJsonString();
    }

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    /// <summary>A GitHub signature header value for <paramref name="body"/> with <paramref name="secret"/>.</summary>
    public static string GitHubSignature(byte[] body, string secret = GitHubSecret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}

/// <summary>The same edge, trusting loopback and 10.0.0.0/8 as proxies in front of it.</summary>
public sealed class TrustedProxyEdge : HostileEdge
{
    protected override IReadOnlyDictionary<string, string?> HostSettings { get; } =
        new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32, 10.0.0.0/8" };
}
