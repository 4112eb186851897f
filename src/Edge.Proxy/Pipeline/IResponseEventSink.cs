namespace Edge.Proxy.Pipeline;

/// <summary>Receives what happened to a response after its record was written, e.g. to add it to the audit trail.</summary>
internal interface IResponseEventSink
{
    /// <summary>
    /// The body of a response the client had already started to receive was cut short: by the backend
    /// (<paramref name="clientSideReason"/> null), or on the client's side of the edge, with the reason it ended there
    /// (<see cref="EdgeRequestMiddleware.ClientAbortedCode"/>, <see cref="ServerAborts.ServerShutdownCode"/>,
    /// <see cref="ServerAborts.ResponseTimeoutCode"/>).
    /// </summary>
    void Incomplete(EdgeRequestFeature request, int status, string error, string? clientSideReason);

    /// <summary>
    /// An upgraded connection's relay ended (<see cref="UpgradeTunnel"/>). Completes once the record is appended, so a
    /// tunnel the shutdown ended has its record before the request does.
    /// </summary>
    ValueTask TunnelClosedAsync(HttpContext context, EdgeRequestFeature request, TunnelEnd end);
}
