using System.Text;
using System.Text.Json;
using Edge.FunctionalTests.Authorization;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

/// <summary>
/// Every answer of the approvals API is one request record in the local audit file that says what the client got on
/// the wire: status, the problem's code as the reason, and the bytes of the body. Sent over raw sockets, so the status,
/// length and body compared are the exact bytes Kestrel wrote.
/// </summary>
public sealed class ApprovalsApiAuditTests : IAsyncLifetime
{
    private const string UnknownId = "0123456789abcdef0123456789abcdef";

    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(Create(_backend.Url));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Theory]
    [InlineData("GET /_edge/approvals", "", 401, "authentication_required", "EdgeAuthenticate")]
    [InlineData("GET /_edge/approvals", "X-Api-Key: not-a-known-key\r\n", 401, "api_key_invalid", "EdgeAuthenticate")]
    [InlineData("GET /_edge/approvals", "X-Api-Key: " + CarolKey + "\r\n", 403, "missing_permission", "EdgeApproval")]
    [InlineData("GET /_edge/approvals?stauts=all", "X-Api-Key: " + BobKey + "\r\n", 400, "query_invalid", "EdgeApproval")]
    [InlineData("GET /_edge/approvals?status=everything", "X-Api-Key: " + BobKey + "\r\n", 400, "status_invalid", "EdgeApproval")]
    [InlineData("GET /_edge/approvals/" + UnknownId, "X-Api-Key: " + BobKey + "\r\n", 404, "approval_not_found", "EdgeApproval")]
    [InlineData("POST /_edge/approvals/" + UnknownId + "/approve", "X-Api-Key: " + BobKey + "\r\nContent-Length: 0\r\n", 404, "approval_not_found", "EdgeApproval")]
    [InlineData("POST /_edge/approvals/" + UnknownId + "/reject", "X-Api-Key: " + BobKey + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, "request_framing_invalid", "Edge")]
    [InlineData("GET /_edge/approvals", "X-Api-Key: " + BobKey + "\r\nX-Note: a\u0001b\r\n", 400, "header_invalid", "Edge")]
    public async Task Refusal_EachAnswer_OneRecordWithTheStatusCodeAndBytesTheClientGot(string requestLine, string headers, int status, string code, string step)
    {
        // Before, only the API's 404/405 for paths it does not have were recorded: a failed sign-in, a refused filter, an
        // unknown id or a framing refusal left no trace in the trail.
        var body = headers.Contains("chunked", StringComparison.Ordinal) ? "0\r\n\r\n" : "";
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"{requestLine} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n{body}");

        Assert.Equal((status, code), (response.Status, response.ProblemCode()));
        var record = await SingleRequestRecordAsync(response);
        Assert.Equal("deny", record.GetProperty("decision").GetString());
        Assert.Equal(step, record.GetProperty("step").GetString());
        Assert.Equal(code, record.GetProperty("reason").GetString()!.Split(':')[0]);
        Assert.Equal("_edge/approvals", record.GetProperty("route").GetString());
    }

    [Fact]
    public async Task Decisions_ApprovedSelfAndDecidedAgain_EachOneRecordMatchingTheWire()
    {
        var id = await RequestApprovalAsync(_edge.Client);

        var self = await ApiAsync($"POST /_edge/approvals/{id}/approve", AliceKey);
        var approved = await ApiAsync($"POST /_edge/approvals/{id}/approve", BobKey);
        var again = await ApiAsync($"POST /_edge/approvals/{id}/approve", BobKey);
        var listed = await ApiAsync("GET /_edge/approvals?status=all", BobKey);

        Assert.Equal((403, "approval_self"), (self.Status, self.ProblemCode()));
        Assert.Equal(200, approved.Status);
        Assert.Equal((409, "approval_decided"), (again.Status, again.ProblemCode()));
        Assert.Equal(200, listed.Status);
        var selfRecord = await SingleRequestRecordAsync(self);
        var approvedRecord = await SingleRequestRecordAsync(approved);
        var againRecord = await SingleRequestRecordAsync(again);
        var listedRecord = await SingleRequestRecordAsync(listed);
        Assert.Equal(("deny", "EdgeApproval", "approval_self", "alice"), Summary(selfRecord));
        Assert.Equal(("allow", null, null, "bob"), Summary(approvedRecord));
        Assert.Equal(("deny", "EdgeApproval", "approval_decided", "bob"), Summary(againRecord));
        Assert.Equal(("allow", null, null, "bob"), Summary(listedRecord));
    }

    [Fact]
    public async Task SignIn_JwksWithoutKeys_503WithRetryAfterRecordedAsOnARoute()
    {
        using var tokens = new TestTokens();
        using var idp = IdentityProvider.Start(tokens);
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody("""{"keys":[]}"""));
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object> { ["everything"] = ProxyJson.Route("/{**rest}") },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["corp"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUrl = idp.JwksUrl, RequireHttpsMetadata = false },
                },
                Roles = new Dictionary<string, string[]> { ["Approver"] = ["payments.approve"] },
                Approvals = new Dictionary<string, object> { ["payments"] = new { ApproverPermission = "payments.approve", Authentication = "corp" } },
            }));

        // The client is not at fault and should come back: a route's EdgeAuthenticate says when, the API said nothing.
        var response = await RawHttp.SendAsync(edge.ProxyPort,
            $"GET /_edge/approvals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TestTokens.Create(tokens.Rs256)}\r\nConnection: close\r\n\r\n");

        Assert.Equal((503, "authentication_unavailable", "5"), (response.Status, response.ProblemCode(), response.Header("Retry-After")));
        Assert.NotNull(response.Header("WWW-Authenticate"));
        var record = await SingleRequestRecordAsync(edge, response);
        Assert.Equal(("deny", "EdgeAuthenticate", "authentication_unavailable:keys_unavailable"),
            (record.GetProperty("decision").GetString(), record.GetProperty("step").GetString(), record.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task List_RedisDown_503StoreUnavailableRecorded()
    {
        await using var server = await RedisServer.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(_backend.Url), new Dictionary<string, string?> { ["Edge:Redis"] = server.ConnectionString });
        await edge.WaitUntilRedisConnectedAsync();
        server.Kill();

        var response = await RawHttp.SendAsync(edge.ProxyPort,
            $"GET /_edge/approvals HTTP/1.1\r\nHost: x\r\nX-Api-Key: {BobKey}\r\nConnection: close\r\n\r\n");

        Assert.Equal((503, "approval_store_unavailable", "5"), (response.Status, response.ProblemCode(), response.Header("Retry-After")));
        var record = await SingleRequestRecordAsync(edge, response);
        Assert.Equal(("deny", "EdgeApproval", "approval_store_unavailable", "bob"), Summary(record));
    }

    private static (string?, string?, string?, string?) Summary(JsonElement record) => (
        record.GetProperty("decision").GetString(),
        record.TryGetProperty("step", out var step) ? step.GetString() : null,
        record.TryGetProperty("reason", out var reason) ? reason.GetString() : null,
        record.GetProperty("subject").GetProperty("principal").GetString());

    private Task<RawResponse> ApiAsync(string requestLine, string key) =>
        RawHttp.SendAsync(_edge.ProxyPort, $"{requestLine} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    /// <summary>
    /// The one request record of <paramref name="response"/> (by its <c>X-Request-Id</c>), after checking it says the
    /// status and body length the client read; fails when the file has none or more than one.
    /// </summary>
    private Task<JsonElement> SingleRequestRecordAsync(RawResponse response) => SingleRequestRecordAsync(_edge, response);

    private static async Task<JsonElement> SingleRequestRecordAsync(EdgeHost edge, RawResponse response)
    {
        var id = response.Header("X-Request-Id") ?? throw new InvalidOperationException("the answer has no X-Request-Id");
        var data = await edge.LocalAuditDataAsync(id);
        var lines = await File.ReadAllLinesAsync(Path.Combine(edge.Directory, "audit-decisions.ndjson"));
        var requestRecords = lines
            .Where(l => l.Contains(id, StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Count(r => r.GetProperty("id").GetString() == id && r.GetProperty("type").GetString() == "dev.edge.audit.request.v1");

        Assert.Equal(1, requestRecords);
        Assert.Equal(response.Status, data.GetProperty("status").GetInt32());
        var bodyBytes = Encoding.UTF8.GetByteCount(response.Body);
        Assert.Equal(response.Header("Content-Length"), bodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(bodyBytes, data.GetProperty("bytesOut").GetInt64());
        return data;
    }
}
