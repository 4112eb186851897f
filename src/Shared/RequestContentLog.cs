using Serilog.Core;
using Serilog.Events;

namespace Edge.Shared;

/// <summary>
/// Keeps what a client sent out of the framework's own log lines, at every level: a query string can hold an
/// <c>api_key=</c> or a signed URL's signature, and Kestrel's text of a refused request line or header line is the raw
/// bytes (a malformed <c>X-Api-Key:</c> line with the key in it). The edge's own lines never hold them; these are
/// ASP.NET Core's, YARP's and Kestrel's, which an operator turns on with <c>Serilog:MinimumLevel:Override</c> to
/// investigate. Shared by the edge and the audit writer.
/// </summary>
internal sealed class RequestContentLog : ILogEventEnricher
{
    /// <summary>ASP.NET Core's "Request starting"/"Request finished" lines (Information).</summary>
    internal const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>YARP's "Proxying to {targetUrl}" line (Information): the backend URL with the client's query string.</summary>
    internal const string ForwarderCategory = "Yarp.ReverseProxy.Forwarder.HttpForwarder";

    /// <summary>Kestrel's "bad request data" line (Debug); its exception's message quotes the refused bytes.</summary>
    internal const string BadRequestsCategory = "Microsoft.AspNetCore.Server.Kestrel.BadRequests";

    private static readonly ScalarValue NoQuery = new("");

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        switch (Category(logEvent))
        {
            case HostingCategory when logEvent.Properties.ContainsKey("QueryString"):
                logEvent.AddOrUpdateProperty(new LogEventProperty("QueryString", NoQuery));
                break;
            case ForwarderCategory when logEvent.Properties.TryGetValue("targetUrl", out var target)
                && target is ScalarValue { Value: { } url } && url.ToString() is { } text && text.IndexOf('?', StringComparison.Ordinal) is >= 0 and var query:
                logEvent.AddOrUpdateProperty(new LogEventProperty("targetUrl", new ScalarValue(text[..query])));
                break;
        }
    }

    /// <summary>
    /// Kestrel's lines about a request it refused: the exception's message (and the line's own text, made from it) quote
    /// the request line or header line as received, with whatever credential it held. The edge and the writer answer and
    /// audit (edge) such a request themselves with its refusal code, so nothing is lost by leaving the line out.
    /// </summary>
    public static bool QuotesRefusedRequest(LogEvent logEvent) =>
        logEvent.Exception is Microsoft.AspNetCore.Http.BadHttpRequestException && Category(logEvent) == BadRequestsCategory;

    private static string? Category(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("SourceContext", out var value) && value is ScalarValue { Value: string category } ? category : null;
}
