using System.Text;

namespace Edge.FunctionalTests.Hostile;

/// <summary>For every way a request can be refused, the audit record's status is the status the client received.</summary>
public sealed class AuditStatusTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    public static TheoryData<string, int, string> DenialPaths() => new()
    {
        { "tenant missing", 400, "tenant_missing" },
        { "rate limited", 429, "rate_limited" },
        { "webhook signature invalid", 401, "" },
        { "body too large", 413, "body_too_large" },
        { "authentication required", 401, "" },
        { "permission denied", 403, "" },
        { "method refused", 405, "method_not_allowed" },
    };

    [Theory]
    [MemberData(nameof(DenialPaths))]
    public async Task DenialPath_AuditStatus_EqualsStatusClientReceived(string denial, int expectedStatus, string reasonPrefix)
    {
        using var response = await SendAsync(denial);
        var requestId = response.Headers.GetValues("X-Request-Id").Single();

        var audit = await fixture.AuditDataAsync(requestId);

        Assert.Equal(expectedStatus, (int)response.StatusCode);
        Assert.Equal((int)response.StatusCode, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.StartsWith(reasonPrefix, audit.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedBody_AuditStatus_EqualsStatusClientReceived()
    {
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort, $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\n{HostileEdge.UnverifiedSignatureHeader}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nxx\r\n0\r\n\r\n");

        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal(400, response.Status);
        Assert.Equal(response.Status, audit.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task BodyTooLarge_WebhookRoute_AuditedAsTheSignatureResultOfTheWebhookStep()
    {
        using var response = await SendAsync("body too large");

        var audit = await fixture.AuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal("EdgeWebhook", audit.GetProperty("step").GetString());
        var signature = audit.GetProperty("signature");
        Assert.Equal("GitHub", signature.GetProperty("scheme").GetString());
        Assert.Equal("body_too_large:content_length", signature.GetProperty("result").GetString());
    }

    [Fact]
    public async Task RateLimited_Audit_CarriesTheRateLimitOutcomeOfTheStep()
    {
        using var response = await SendAsync("rate limited");

        var audit = await fixture.AuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal("EdgeRateLimit", audit.GetProperty("step").GetString());
        Assert.Equal("limited", audit.GetProperty("rateLimit").GetString());
    }

    private async Task<HttpResponseMessage> SendAsync(string denial)
    {
        var client = fixture.Edge.Client;
        switch (denial)
        {
            case "tenant missing":
                return await client.GetAsync("/tenant/x");
            case "rate limited":
                (await client.GetAsync("/limited/first")).Dispose();
                return await client.GetAsync("/limited/second");
            case "webhook signature invalid":
            {
                var body = Encoding.UTF8.GetBytes("{\"a\":1}");
                var request = new HttpRequestMessage(HttpMethod.Post, HostileEdge.WebhookPath) { Content = new ByteArrayContent(body) };
                request.Headers.Add("X-GitHub-Event", "push");
                request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString("N"));
                request.Headers.Add("X-Hub-Signature-256", HostileEdge.GitHubSignature(body, "not-the-secret"));
                return await client.SendAsync(request);
            }

            case "body too large":
            {
                // Signed (wrongly), so the step gets as far as the body: an unsigned delivery is refused on its headers.
                var request = new HttpRequestMessage(HttpMethod.Post, HostileEdge.WebhookPath) { Content = new ByteArrayContent(new byte[4096]) };
                request.Headers.Add("X-Hub-Signature-256", HostileEdge.GitHubSignature([], "not-the-secret"));
                return await client.SendAsync(request);
            }

            case "authentication required":
                return await client.GetAsync("/keys/x");
            case "permission denied":
            {
                var request = new HttpRequestMessage(HttpMethod.Get, "/keys/x");
                request.Headers.Add("X-Api-Key", HostileEdge.ViewerKey);
                return await client.SendAsync(request);
            }

            case "method refused":
                return await client.SendAsync(new HttpRequestMessage(HttpMethod.Trace, "/open/x"));
            default:
                throw new ArgumentOutOfRangeException(nameof(denial), denial, null);
        }
    }
}
