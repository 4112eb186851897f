namespace Edge.Load.BenchHost;

/// <summary>
/// YARP with nothing else: routes and clusters from the <c>ReverseProxy</c> section of a proxy.json, no Edge steps,
/// no logging. The baseline the edge's full pipeline is compared against.
/// </summary>
internal static class BareYarp
{
    public static WebApplication Build(string configPath, string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.ClearProviders();
        builder.Configuration.AddJsonFile(Path.GetFullPath(configPath), optional: false, reloadOnChange: false);
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        var app = builder.Build();
        app.MapReverseProxy();
        // What load/bench.sh reads to report bare YARP's allocated bytes per request (the edge exports the same runtime
        // counter on its /metrics); one more endpoint in the route table, nothing per proxied request.
        app.MapGet("/_bench/allocated-bytes", () => Results.Text(GC.GetTotalAllocatedBytes().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return app;
    }
}
