using System.Text;

// A small stand-in for a legacy backend: it echoes what the edge forwarded, so the README's curl calls show the
// tenant and identity headers the edge set. Also used as the fast backend of the side-by-side benchmark.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
if (builder.Configuration["urls"] is null)
{
    builder.WebHost.UseUrls("http://127.0.0.1:5100");
}

var app = builder.Build();

app.MapGet("/fast", () => Results.Text("ok"));

app.Map("/{**path}", async (HttpContext context) =>
{
    using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
    var body = await reader.ReadToEndAsync(context.RequestAborted);
    var headers = context.Request.Headers
        .Where(h => h.Key.StartsWith("X-", StringComparison.OrdinalIgnoreCase))
        .ToDictionary(h => h.Key, h => h.Value.ToString());
    return Results.Json(new
    {
        backend = "edge-demo",
        method = context.Request.Method,
        path = context.Request.Path.Value,
        query = context.Request.QueryString.Value,
        headers,
        bodyLength = Encoding.UTF8.GetByteCount(body),
    });
});

try
{
    await app.RunAsync();
    return 0;
}
catch (IOException taken) when (taken.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    // A second ./run.sh, or another service on the port: one line, as the edge and the writer print, not Kestrel's stack.
    Console.Error.WriteLine("error: " + taken.Message);
    return 1;
}
