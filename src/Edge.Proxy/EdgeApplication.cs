using Edge.Proxy.Approvals;
using Edge.Proxy.Auditing;
using Edge.Proxy.Authorization;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Edge.Proxy.Tenancy;
using Edge.Proxy.ThreatProtection;
using Edge.Proxy.Validation;
using Edge.Proxy.Webhooks;

namespace Edge.Proxy;

/// <summary>
/// Builds the edge host. Kept out of Program.cs so functional tests can start real Kestrel instances in-process.
/// </summary>
public static class EdgeApplication
{
    /// <summary>Kestrel's switch that refuses a bare LF as an HTTP/1.x line end (accepted by default since .NET 7).</summary>
    internal const string StrictLineEndsSwitch = "Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators";

    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The edge is the first HTTP parser behind a load balancer or CDN: one that keeps a bare LF inside a header value
        // (X-A: 1<LF>Transfer-Encoding: chunked) forwards one header where Kestrel read two, and the two disagree on
        // framing, tenant or credentials. RFC 9112 only allows accepting a bare LF; as the edge, refuse it (400, closed).
        AppContext.SetSwitch(StrictLineEndsSwitch, true);

        var builder = Edge.Configuration.HostBuilders.Create(args);
        configure?.Invoke(builder);

        var host = builder.AddEdgeHostOptions();
        AllowedHosts.AddTo(builder);
        HeaderValues.AddTo(builder);
        ParserRejections.AddTo(builder);
        ManagementAccess.AddTo(builder, host);
        builder.AddEdgeObservability();
        builder.Services.AddEdgeRedis(host);
        builder.Services.AddEdgePipeline();
        builder.Services.AddEdgeTenancy();
        builder.Services.AddEdgeRateLimiting();
        builder.Services.AddEdgeWebhooks();
        builder.Services.AddEdgeAuthorization();
        builder.Services.AddEdgeValidation();
        builder.Services.AddEdgeApprovals();
        builder.Services.AddEdgeAuditing();
        builder.Services.AddEdgeThreatProtection();
        builder.Services.AddEdgeProxyConfig();

        var app = builder.Build();
        ParserRejections.Subscribe(app);
        SettingsFileLog.Subscribe(app);
        // Before routing, so a route's Hosts match the name a backend's virtual hosts read.
        app.Use(HostTrailingDot.RemoveAsync);
        app.UseEdgeManagementPortFilter(host);
        app.MapEdgeManagementEndpoints(host);
        app.MapEdgeApprovals();
        MapEdgeReverseProxy(app);
        return app;
    }

    /// <summary>
    /// The request path of an edge route, in order: <see cref="EdgeTraceContext"/> (trace id and traceparent when the
    /// request has no Activity, i.e. unless <c>Edge:Observability:Activities</c> is on), <see cref="EdgeRequestMiddleware"/> (id, identity-header stripping,
    /// the ban check, method refusal, audit at the end), <see cref="RoutePolicyRateLimitingMiddleware"/> for routes with a <c>RateLimiterPolicy</c>,
    /// YARP's own middleware, then the forwarder, whose request transforms run the ordered edge steps
    /// (<see cref="EdgeStepTransform"/>, with <see cref="EdgeBodyBufferingTransform"/> before the first that reads the body)
    /// before the backend is called.
    /// </summary>
    private static void MapEdgeReverseProxy(WebApplication app)
    {
        app.MapReverseProxy(pipeline =>
        {
            // The trace id and traceparent without a hosting or HttpClient Activity per request.
            pipeline.Use(EdgeTraceContext.Begin);

            pipeline.UseMiddleware<EdgeRequestMiddleware>();

            // Routes with a RateLimiterPolicy: inside the proxy pipeline (routing has run) so every decision has its
            // request id and is audited; before any step, so a refused body is never read. Bodies are buffered by
            // EdgeBodyBufferingTransform, among the request transforms, before the first step that reads one.
            pipeline.UseMiddleware<RoutePolicyRateLimitingMiddleware>();
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        }).ConfigureEndpoints(EdgeRateLimiterPolicies.Apply);
    }
}
