namespace Edge.Load.BenchHost;

/// <summary>
/// The fast loopback backend the benchmark puts behind every path: any method and path answers 200 with a small
/// fixed JSON body; request bodies are drained. Nothing else runs in the pipeline, so it is never the bottleneck.
/// With <c>--jwks FILE</c> it also serves that file at <c>GET /jwks.json</c>, the key set of the auth benchmark.
/// </summary>
internal static class BenchBackend
{
    private static readonly byte[] Body = """{"ok":true,"service":"bench-backend"}"""u8.ToArray();

    public static WebApplication Build(string[] args, string? jwksPath = null)
    {
        var jwks = jwksPath is null ? null : File.ReadAllBytes(jwksPath);
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(async context =>
        {
            if (jwks is not null && context.Request.Path == "/jwks.json")
            {
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(jwks, context.RequestAborted);
                return;
            }

            if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Body.Length;
            await context.Response.Body.WriteAsync(Body, context.RequestAborted);
        });
        return app;
    }
}
