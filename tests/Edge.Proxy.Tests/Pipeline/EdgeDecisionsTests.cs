using System.Diagnostics.Metrics;
using System.Text.Json;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Tests.ThreatProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class EdgeDecisionsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<(long Value, Dictionary<string, object?> Tags)> _counted = [];
    private readonly EdgeMetrics _metrics;
    private readonly MeterListener _listener;

    public EdgeDecisionsTests()
    {
        _metrics = new EdgeMetrics(_services.GetRequiredService<IMeterFactory>());
        _listener = Listen(_metrics.Meter, _counted);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task DenyAsync_EdgeRequest_RecordsStepReasonMetricAndWritesProblem()
    {
        var http = Context();
        var denial = new EdgeDenial(StatusCodes.Status403Forbidden, "permission_denied", "Forbidden", "Not allowed.")
        {
            Reason = "permission_denied:orders.read",
            Headers = new Dictionary<string, string> { ["X-Extra"] = "1" },
        };

        await new EdgeDecisions(_metrics, ThreatMonitors.InProcess(_metrics)).DenyAsync(http, "EdgeRequire", denial);

        var request = http.GetEdgeRequest()!;
        Assert.True(request.IsDenied);
        Assert.Equal("EdgeRequire", request.DecidingStep);
        Assert.Equal("permission_denied:orders.read", request.ReasonCode);
        Assert.Equal(403, http.Response.StatusCode);
        Assert.Equal("1", http.Response.Headers["X-Extra"]);
        Assert.Equal(ProblemDetailsWriter.ContentType, http.Response.ContentType);
        using var problem = JsonDocument.Parse(((MemoryStream)http.Response.Body).ToArray());
        Assert.Equal("permission_denied", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal("req-1", problem.RootElement.GetProperty("requestId").GetString());
        var (value, tags) = Assert.Single(_counted);
        Assert.Equal(1, value);
        Assert.Equal("r1", tags["route"]);
        Assert.Equal("EdgeRequire", tags["step"]);
        Assert.Equal("deny", tags["decision"]);
        Assert.Equal("permission_denied:orders.read", tags["reason"]);
    }

    [Fact]
    public async Task DenyAsync_WithErrors_WritesErrorsArrayWithPointerOrParameter()
    {
        var http = Context();
        var denial = new EdgeDenial(StatusCodes.Status422UnprocessableEntity, "body_invalid", "Body invalid")
        {
            Errors = [new EdgeProblemError("expected type integer") { Pointer = "/amount" }, new EdgeProblemError("parameter not allowed") { Parameter = "debug" }],
        };

        await new EdgeDecisions(_metrics).DenyAsync(http, "EdgeValidate", denial);

        using var problem = JsonDocument.Parse(((MemoryStream)http.Response.Body).ToArray());
        var errors = problem.RootElement.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(2, errors.Count);
        Assert.Equal("/amount", errors[0].GetProperty("pointer").GetString());
        Assert.Equal("expected type integer", errors[0].GetProperty("detail").GetString());
        Assert.False(errors[0].TryGetProperty("parameter", out _));
        Assert.Equal("debug", errors[1].GetProperty("parameter").GetString());
        Assert.False(errors[1].TryGetProperty("pointer", out _));
    }

    [Fact]
    public async Task DenyAsync_WithoutErrors_NoErrorsMember()
    {
        var http = Context();

        await new EdgeDecisions(_metrics).DenyAsync(http, "EdgeRequire", new EdgeDenial(StatusCodes.Status403Forbidden, "permission_denied", "Forbidden"));

        using var problem = JsonDocument.Parse(((MemoryStream)http.Response.Body).ToArray());
        Assert.False(problem.RootElement.TryGetProperty("errors", out _));
    }

    [Fact]
    public async Task DenyAsync_OutsideEdgeRoute_WritesProblemWithoutRecording()
    {
        var http = new DefaultHttpContext { Response = { Body = new MemoryStream() } };

        await new EdgeDecisions(_metrics, ThreatMonitors.InProcess(_metrics)).DenyAsync(http, "RateLimiterPolicy", new EdgeDenial(429, "rate_limited", "Too many requests"));

        Assert.Equal(429, http.Response.StatusCode);
        Assert.Null(http.GetEdgeRequest());
        Assert.Empty(_counted);
    }

    [Fact]
    public void DenyUnanswered_ClientGone_RecordsStatusAndReasonWithoutBody()
    {
        var http = Context();

        new EdgeDecisions(_metrics, ThreatMonitors.InProcess(_metrics)).DenyUnanswered(http, "EdgeWebhook", 499, "body_invalid:client_aborted");

        Assert.Equal(499, http.Response.StatusCode);
        Assert.Equal("body_invalid:client_aborted", http.GetEdgeRequest()!.ReasonCode);
        Assert.Equal(0, http.Response.Body.Length);
    }

    private static DefaultHttpContext Context()
    {
        var http = new DefaultHttpContext { Response = { Body = new MemoryStream() } };
        http.Features.Set(new EdgeRequestFeature { RequestId = "req-1", RouteId = "r1", StartedAt = DateTimeOffset.UnixEpoch });
        return http;
    }

    private static MeterListener Listen(Meter meter, List<(long Value, Dictionary<string, object?> Tags)> counted)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name.Contains("step", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            counted.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();
        return listener;
    }
}
