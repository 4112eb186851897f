using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>Receives the decision of every request on an edge route, allowed or denied.</summary>
public interface IAuditSink
{
    ValueTask RecordAsync(HttpContext context, EdgeRequestContext request);
}
