namespace Edge.Proxy.Pipeline;

/// <summary>Receives what happened to a response after its record was written, e.g. to add it to the audit trail.</summary>
internal interface IResponseEventSink
{
    /// <summary>The backend broke off the body of a response the client had already started to receive.</summary>
    void Incomplete(EdgeRequestFeature request, int status, string error);
}
