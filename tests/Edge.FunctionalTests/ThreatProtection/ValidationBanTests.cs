using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// <c>On: ValidationFailed</c> end to end: the refusals the real <c>EdgeValidate</c> step answers count towards the rule,
/// and the ban refuses the client's next request even when that one is valid.
/// </summary>
public sealed class ValidationBanTests : IAsyncLifetime
{
    private const string Schema = """
    { "type": "object", "required": ["amount"], "additionalProperties": false, "properties": { "amount": { "type": "integer", "minimum": 1 } } }
    """;

    private readonly string _schemaDirectory = Directory.CreateTempSubdirectory("edge-validation-ban-").FullName;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        var schemaPath = Path.Combine(_schemaDirectory, "orders.json");
        await File.WriteAllTextAsync(schemaPath, Schema);
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "orders" }),
                ["search"] = ProxyJson.Route("/search/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "search" }),
            },
            new
            {
                Validation = new Dictionary<string, object>
                {
                    ["orders"] = new { JsonSchema = "file:" + schemaPath, ContentTypes = new[] { "application/json" } },
                    ["search"] = new { Query = new { AllowUnknown = false, Parameters = new Dictionary<string, object> { ["q"] = new { Required = true } } } },
                },
                ThreatProtection = new
                {
                    Rules = new Dictionary<string, object>
                    {
                        ["invalid-requests"] = new { On = new[] { "ValidationFailed" }, Key = "{ip}", Threshold = 3, Window = "00:01:00", BanFor = "00:05:00" },
                    },
                },
            }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Directory.Delete(_schemaDirectory, recursive: true);
    }

    [Theory]
    [InlineData("schema", "body_invalid:")]
    [InlineData("media-type", "unsupported_media_type")]
    [InlineData("query", "query_invalid:")]
    public async Task Refusals_ThreeFromEdgeValidate_BanClientAndValidRequestGetsClientBlocked(string kind, string reasonPrefix)
    {
        string? firstRequestId = null;
        for (var i = 0; i < 3; i++)
        {
            using var refused = await _edge.Client.SendAsync(Invalid(kind));
            Assert.True(refused.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.UnsupportedMediaType, $"{kind}: {(int)refused.StatusCode}");
            firstRequestId ??= Assert.Single(refused.Headers.GetValues("X-Request-Id"));
        }

        using var valid = await _edge.Client.PostAsync("/orders/1", new StringContent("{\"amount\":5}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Forbidden, valid.StatusCode);
        using (var problem = JsonDocument.Parse(await valid.Content.ReadAsStringAsync()))
        {
            Assert.Equal("client_blocked", problem.RootElement.GetProperty("code").GetString());
        }

        Assert.Empty(_backend.Received);
        var counted = await AuditDataAsync(firstRequestId!);
        Assert.Equal("EdgeValidate", counted.GetProperty("step").GetString());
        Assert.StartsWith(reasonPrefix, counted.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var blocked = await AuditDataAsync(Assert.Single(valid.Headers.GetValues("X-Request-Id")));
        Assert.Equal("threat", blocked.GetProperty("step").GetString());
        Assert.Equal("client_blocked:invalid-requests", blocked.GetProperty("reason").GetString());
    }

    private static HttpRequestMessage Invalid(string kind) => kind switch
    {
        "schema" => new HttpRequestMessage(HttpMethod.Post, "/orders/1") { Content = new StringContent("{\"amount\":\"five\"}", Encoding.UTF8, "application/json") },
        "media-type" => new HttpRequestMessage(HttpMethod.Post, "/orders/1") { Content = new StringContent("amount=5", Encoding.UTF8, "application/x-www-form-urlencoded") },
        _ => new HttpRequestMessage(HttpMethod.Get, "/search/?q=x&debug=1"),
    };

    private Task<JsonElement> AuditDataAsync(string requestId) => _edge.LocalAuditDataAsync(requestId);
}
