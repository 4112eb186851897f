namespace Edge.Proxy.Pipeline;

/// <summary>Receives what happened to a response after its record was written, e.g. to add it to the audit trail.</summary>
internal interface IResponseEventSink
{
    /// <summary>
    /// The body of a response the client had already started to receive was cut short: by the backend
    /// (<paramref name="byClient"/> false), or by the client going away before the end.
    /// </summary>
    void Incomplete(EdgeRequestFeature request, int status, string error, bool byClient);
}
