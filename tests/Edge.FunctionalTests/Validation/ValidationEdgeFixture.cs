using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Validation;

/// <summary>
/// One real edge (Kestrel) in front of a WireMock backend with validation routes: a schema-checked JSON route, a
/// query-rules route, and webhook routes where validation runs after and before the signature check over the same body.
/// Decisions go to the edge's local audit file.
/// </summary>
public sealed class ValidationEdgeFixture : IAsyncLifetime
{
    public const string GitHubSecret = "validation-suite-github-secret";
    public const int OrdersMaxBodyBytes = 4096;
    public const int OrdersMaxDepth = 8;

    public const string OrderSchema = """
    {
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "required": ["amount", "currency"],
      "additionalProperties": false,
      "properties": {
        "amount": { "type": "integer", "minimum": 1 },
        "currency": { "type": "string", "pattern": "^[A-Z]{3}$" },
        "note": { "type": "string", "maxLength": 200 },
        "customer": { "type": "object", "required": ["id"], "properties": { "id": { "type": "string" }, "tags": { "type": "array", "items": { "type": "string" } } } },
        "items": { "type": "array", "items": { "type": "object", "required": ["sku"], "properties": { "sku": { "type": "string" }, "qty": { "type": "integer" } } } },
        "meta": { "type": "object" }
      }
    }
    """;

    public const string EventSchema = """
    { "type": "object", "required": ["action"], "properties": { "action": { "enum": ["opened", "closed"] } } }
    """;

    private readonly string _secretVariable = "EDGE_VALIDATION_TEST_SECRET_" + Guid.NewGuid().ToString("N");

    public Backend Backend { get; private set; } = null!;

    public EdgeHost Edge { get; private set; } = null!;

    public string SchemaDirectory { get; } = Directory.CreateTempSubdirectory("edge-validation-schemas-").FullName;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, GitHubSecret);
        await File.WriteAllTextAsync(Path.Combine(SchemaDirectory, "orders.json"), OrderSchema);
        await File.WriteAllTextAsync(Path.Combine(SchemaDirectory, "events.json"), EventSchema);
        Backend = Backend.Start();
        Edge = await EdgeHost.StartAsync(ProxyJsonFor(Backend.Url));
    }

    public async Task DisposeAsync()
    {
        await Edge.DisposeAsync();
        Backend.Dispose();
        Environment.SetEnvironmentVariable(_secretVariable, null);
        Directory.Delete(SchemaDirectory, recursive: true);
    }

    public int BackendCalls(string pathPrefix) =>
        Backend.Received.Count(e => e.RequestMessage?.Path?.StartsWith(pathPrefix, StringComparison.Ordinal) == true);

    public byte[]? LastForwardedBody(string pathPrefix) =>
        Backend.Received.Last(e => e.RequestMessage?.Path?.StartsWith(pathPrefix, StringComparison.Ordinal) == true).RequestMessage!.BodyAsBytes;

    /// <summary>The audit record's <c>data</c> for <paramref name="requestId"/> from the edge's local decision file.</summary>
    public Task<JsonElement> AuditDataAsync(string requestId) => Edge.LocalAuditDataAsync(requestId);

    public string ProxyJsonFor(string backendUrl, string? ordersSchemaFile = null, bool extraRoute = false) => ProxyJson.Create(
        backendUrl,
        new Dictionary<string, object>(extraRoute ? [new("extra", ProxyJson.Route("/extra/{**rest}"))] : [])
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "orders" }),
            ["search"] = ProxyJson.Route("/search/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "search" }),
            ["search-open"] = ProxyJson.Route("/open-search/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "search-open" }),
            ["hook-then-validate"] = ProxyJson.Route(
                "/hooks/after/{**rest}",
                new Dictionary<string, string> { ["EdgeWebhook"] = "github" },
                new Dictionary<string, string> { ["EdgeValidate"] = "events" }),
            ["validate-then-hook"] = ProxyJson.Route(
                "/hooks/before/{**rest}",
                new Dictionary<string, string> { ["EdgeValidate"] = "events" },
                new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
        },
        new
        {
            Validation = new Dictionary<string, object>
            {
                ["orders"] = new
                {
                    JsonSchema = "file:" + Path.Combine(SchemaDirectory, ordersSchemaFile ?? "orders.json"),
                    MaxBodyBytes = OrdersMaxBodyBytes,
                    MaxJsonDepth = OrdersMaxDepth,
                    ContentTypes = new[] { "application/json", "application/*+json" },
                },
                ["search"] = new
                {
                    Query = new
                    {
                        AllowUnknown = false,
                        Parameters = new Dictionary<string, object>
                        {
                            ["q"] = new { Required = true, MaxLength = 20 },
                            ["page"] = new { Pattern = "[0-9]{1,3}" },
                            ["sort"] = new { Pattern = "asc|desc" },
                            // Backtracks exponentially on a long run of 'a' without 'b': only the match timeout ends it.
                            ["slow"] = new { Pattern = "(a+)+b" },
                        },
                    },
                },
                ["search-open"] = new
                {
                    Query = new
                    {
                        AllowUnknown = true,
                        Parameters = new Dictionary<string, object>
                        {
                            ["page"] = new { Pattern = "[0-9]{1,3}" },
                            ["user_id"] = new { Pattern = "[0-9]+" },
                            ["slow"] = new { Pattern = "(a+)+b" },
                        },
                    },
                },
                ["events"] = new { JsonSchema = "file:" + Path.Combine(SchemaDirectory, "events.json"), MaxBodyBytes = 2048 },
            },
            Webhooks = new Dictionary<string, object>
            {
                ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable }, MaxBodyBytes = 65536 },
            },
        });
}
