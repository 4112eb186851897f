using System.Text.Json;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Proxy.Tests.ThreatProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class EdgeStepTransformTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly EdgeMetrics _metrics;

    public EdgeStepTransformTests() => _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    public void Dispose() => _services.Dispose();

    public static TheoryData<string> Failures() => ["throws", "faults", "faults-later"];

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task ApplyAsync_StepThrows_Answers500PipelineErrorRecordedAsTheStepsDenial(string failure)
    {
        // Left to YARP, the exception was a 502 backend_unavailable recorded as allowed, for a request no backend saw.
        var threat = ThreatMonitors.InProcess(_metrics);
        var transform = new EdgeStepTransform(
            "EdgeAuthenticate", new FailingStep(failure), new EdgeDecisions(_metrics, threat), threat, new LogWindow(TimeSpan.FromMinutes(1)), TimeProvider.System, NullLogger.Instance);
        var http = new DefaultHttpContext { Response = { Body = new MemoryStream() } };
        http.Features.Set(new EdgeRequestFeature { RequestId = "req-1", RouteId = "r1", StartedAt = DateTimeOffset.UnixEpoch });

        await transform.ApplyAsync(new RequestTransformContext { HttpContext = http, ProxyRequest = new HttpRequestMessage(), Path = "/x", Query = new QueryTransformContext(http.Request) });

        var request = http.GetEdgeRequest()!;
        Assert.Equal(StatusCodes.Status500InternalServerError, http.Response.StatusCode);
        Assert.True(request.IsDenied);
        Assert.Equal("EdgeAuthenticate", request.DecidingStep);
        Assert.Equal("edge_pipeline_error:step_failed", request.ReasonCode);
        using var problem = JsonDocument.Parse(((MemoryStream)http.Response.Body).ToArray());
        Assert.Equal("edge_pipeline_error", problem.RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task ApplyAsync_StepThrowsOnEveryRequest_OneErrorLineAMinuteEachRequestStillRecorded()
    {
        // A broken step under load wrote event 1001, with its stack trace, once per request.
        var threat = ThreatMonitors.InProcess(_metrics);
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var transform = new EdgeStepTransform(
            "EdgeAuthenticate", new FailingStep("throws"), new EdgeDecisions(_metrics, threat), threat, new LogWindow(TimeSpan.FromMinutes(1)), time, logs.CreateLogger("step"));

        var requests = new List<EdgeRequestFeature>();
        for (var i = 0; i < 10; i++)
        {
            requests.Add(await FailOnceAsync(transform));
        }

        time.Advance(TimeSpan.FromMinutes(1));
        requests.Add(await FailOnceAsync(transform));

        var unlogged = logs.Values.Where(e => e.Id.Id == 1001).Select(e => e.Values.Single(v => v.Key == "Unlogged").Value).ToList();
        Assert.Equal(new object?[] { 0L, 9L }, unlogged);
        Assert.All(logs.Entries.Where(e => e.Id.Id == 1001), e => Assert.Equal(LogLevel.Error, e.Level));
        Assert.All(requests, r => Assert.Equal(("EdgeAuthenticate", "edge_pipeline_error:step_failed"), (r.DecidingStep, r.ReasonCode)));
    }

    private static async Task<EdgeRequestFeature> FailOnceAsync(EdgeStepTransform transform)
    {
        var http = new DefaultHttpContext { Response = { Body = new MemoryStream() } };
        http.Features.Set(new EdgeRequestFeature { RequestId = "req-1", RouteId = "r1", StartedAt = DateTimeOffset.UnixEpoch });
        await transform.ApplyAsync(new RequestTransformContext { HttpContext = http, ProxyRequest = new HttpRequestMessage(), Path = "/x", Query = new QueryTransformContext(http.Request) });
        Assert.Equal(StatusCodes.Status500InternalServerError, http.Response.StatusCode);
        return http.GetEdgeRequest()!;
    }

    private sealed class FailingStep(string failure) : IEdgeStep
    {
        public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context) => failure switch
        {
            "throws" => throw new ArgumentOutOfRangeException(nameof(context), "un-representable DateTime"),
            "faults" => ValueTask.FromException<EdgeStepResult>(new InvalidOperationException("faulted")),
            _ => LaterAsync(),
        };

        private static async ValueTask<EdgeStepResult> LaterAsync()
        {
            await Task.Yield();
            throw new InvalidOperationException("faulted after waiting");
        }
    }
}
