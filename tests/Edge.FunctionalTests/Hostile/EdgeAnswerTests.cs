using System.Net;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Hosting;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Answers the edge gives itself outside any step (no route, a method the route does not match, a backend it cannot
/// reach) are problem+json with a stable code, like every step's refusal.
/// </summary>
public sealed class EdgeAnswerTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    [Fact]
    public async Task NoRoute_ProxyPort_Answers404ProblemJsonNotFound()
    {
        using var response = await fixture.Edge.Client.GetAsync("/no-route-here/x");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", await ProblemCodeAsync(response));
    }

    [Fact]
    public async Task NoRoute_ProxyPort_AuditsThe404WithoutARoute()
    {
        using var response = await fixture.Edge.Client.GetAsync("/no-route-here/audited");
        var audit = await fixture.AuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal((404, "deny", "Edge", "not_found"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(),
            audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        Assert.Equal("/no-route-here/audited", audit.GetProperty("path").GetString());
        Assert.False(audit.TryGetProperty("route", out var route) && route.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task MethodOutsideRouteMethods_Audits405WithoutARoute()
    {
        using var response = await fixture.Edge.Client.DeleteAsync("/get-only/audited");
        var audit = await fixture.AuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal((405, "deny", "method_not_allowed", "DELETE"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(),
            audit.GetProperty("reason").GetString(), audit.GetProperty("method").GetString()));
    }

    [Fact]
    public async Task UnknownPath_ManagementPort_IsNotAuditedAndHasNoRequestId()
    {
        using var response = await fixture.Edge.Management.GetAsync("/no-such-endpoint");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Request-Id"));
    }

    [Fact]
    public async Task ManagementPathOnProxyPort_AnswersTheSameProblemAsNoRoute()
    {
        var unknown = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /no-route-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var status = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /edge/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var posted = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "POST /edge/status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        Assert.Equal("not_found", unknown.ProblemCode());
        Assert.Equal((404, "not_found"), (status.Status, status.ProblemCode()));
        Assert.Equal((404, "not_found"), (posted.Status, posted.ProblemCode()));
    }

    [Fact]
    public async Task UnknownPath_ManagementPort_Answers404ProblemJsonNotFound()
    {
        using var response = await fixture.Edge.Management.GetAsync("/no-such-endpoint");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", await ProblemCodeAsync(response));
    }

    [Fact]
    public async Task MethodOutsideRouteMethods_Answers405ProblemJsonWithAllow()
    {
        using var response = await fixture.Edge.Client.DeleteAsync("/get-only/x");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("method_not_allowed", await ProblemCodeAsync(response));
        // A GET route takes HEAD too (HeadMethodTests).
        Assert.Equal(["GET", "HEAD", "TRACE"], response.Content.Headers.Allow.Order(StringComparer.Ordinal));
        Assert.Equal(0, fixture.BackendCalls("/get-only/"));
    }

    [Fact]
    public async Task BackendRefusesConnection_Answers502ProblemJsonAndAuditsThatStatus()
    {
        using var response = await fixture.Edge.Client.GetAsync(HostileEdge.DeadBackendPath + "x");
        var audit = await fixture.AuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("backend_unavailable", await ProblemCodeAsync(response));
        Assert.Equal(502, audit.GetProperty("status").GetInt32());
        Assert.Equal(("allow", "backend_unavailable"), (audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task StreamedBodyOverKestrelLimit_Answers413BodyTooLargeNotABackendProblem()
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithBodyLimitAsync(backend, 1024);
        var chunk = new string('a', 4096);

        var response = await RawHttp.SendAsync(edge.ProxyPort,
            $"POST /open/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{4096:x}\r\n{chunk}\r\n0\r\n\r\n");

        Assert.Equal((413, "body_too_large"), (response.Status, response.ProblemCode()));
        Assert.Matches("^[0-9a-f]{32}$", response.Header("X-Request-Id") ?? "");
    }

    [Fact]
    public async Task DeclaredLengthOverKestrelLimit_Answers413BodyTooLargeProblemAndAuditsIt()
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithBodyLimitAsync(backend, 1024);

        var response = await RawHttp.SendAsync(edge.ProxyPort, "POST /open/declared HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nabc");
        var audit = await edge.LocalAuditDataAsync(response.Header("X-Request-Id") ?? "(the answer had no X-Request-Id)");

        Assert.Equal((413, "body_too_large"), (response.Status, response.ProblemCode()));
        Assert.Equal(413, audit.GetProperty("status").GetInt32());
        Assert.Empty(backend.Received);
    }

    /// <summary>An edge with one open route and Kestrel's request body limit at <paramref name="limit"/> bytes.</summary>
    private static Task<EdgeHost> StartWithBodyLimitAsync(Backend backend, long limit) =>
        EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            configure: builder => builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = limit));

    [Fact]
    public async Task MalformedChunkOnStreamingRoute_Answers400BodyInvalidWithRequestId()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            "POST /open/chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n");
        var requestId = response.Header("X-Request-Id");
        var audit = await fixture.AuditDataAsync(requestId ?? "(the answer had no X-Request-Id)");

        Assert.Equal((400, "body_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(400, audit.GetProperty("status").GetInt32());
        Assert.Equal("body_invalid", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task BodyTrickledOnStreamingRoute_Answers408BodyTimeoutAndAuditsIt()
    {
        // Answered 408 with code body_invalid ("could not be read") before, where a body-buffering route says body_timeout.
        var response = await RawHttp.TrickleAsync(
            fixture.Edge.ProxyPort,
            "POST /open/trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
            "          "u8.ToArray(),
            TimeSpan.FromMilliseconds(500));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id") ?? "(the answer had no X-Request-Id)");

        Assert.Equal((408, "body_timeout"), (response.Status, response.ProblemCode()));
        Assert.Equal(408, audit.GetProperty("status").GetInt32());
    }

    private static async Task<string?> ProblemCodeAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:edge:problem:" + problem.RootElement.GetProperty("code").GetString(), problem.RootElement.GetProperty("type").GetString());
        return problem.RootElement.GetProperty("code").GetString();
    }
}
