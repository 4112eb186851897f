namespace Edge.Proxy.Pipeline;

/// <summary>
/// Requests the server ended, which look to the request exactly like a client that went away: <c>RequestAborted</c>
/// fires either way. A graceful shutdown whose drain window (<c>HostOptions.ShutdownTimeout</c>) ends aborts every
/// connection still serving (Kestrel aborts the transport; over HTTP/1.1 its HTTP layer then reports "the client has
/// disconnected"), and a client that reads the response slower than Kestrel's <c>MinResponseDataRate</c> has its
/// connection aborted by Kestrel. Both were recorded as <c>client_aborted</c>. Only consulted once a request was
/// aborted: the answered path pays one status comparison.
/// </summary>
internal sealed class ServerAborts : IHostedLifecycleService
{
    /// <summary>A request still in flight when the shutdown's drain window ended: the edge cut it off.</summary>
    public const string ServerShutdownCode = "server_shutdown";

    /// <summary>A response body the client read slower than Kestrel's <c>MinResponseDataRate</c>: Kestrel cut it off.</summary>
    public const string ResponseTimeoutCode = "response_timeout";

    // Kestrel's text for the connection it aborts over a slow reader (CoreStrings.ConnectionTimedBecauseResponseMininumDataRateNotSatisfied;
    // Kestrel's messages are not localized). Checked by ServerAbortsTests, so a rename cannot fall back to client_aborted unnoticed.
    internal const string ResponseDataRateMessage = "The connection was timed out by the server because the response was not read by the client at the specified minimum data rate.";

    // The host's stop token, once stopping began. Read, not registered on: Kestrel registers on it after StoppingAsync,
    // and a token runs its callbacks last registered first, so Kestrel's abort of the connections still serving (and
    // the records of the requests it cut off) came before a flag our callback set, and those requests were recorded as
    // their clients' aborts. The token reads cancelled before any callback runs.
    private CancellationToken _stop;

    /// <summary>
    /// Whether the host's stop token fired: the token Kestrel waits on for in-flight requests before it aborts their
    /// connections. Before it fires, a request that ends aborted was ended by its client, even during a shutdown.
    /// </summary>
    public bool DrainEnded => _stop.IsCancellationRequested;

    /// <summary>
    /// A request recorded as its client's abort (499, nothing sent) that the shutdown cut off instead: 503 with
    /// <c>bytesOut</c> 0 and reason <see cref="ServerShutdownCode"/>, under the step that was deciding when it happened.
    /// </summary>
    public void ReclassifyUnanswered(HttpContext context, EdgeRequestFeature request)
    {
        if (context.Response.StatusCode != EdgeBodyBufferingTransform.ClientClosedRequest || context.Response.HasStarted || !DrainEnded)
        {
            return;
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentLength = 0;
        if (request.DecidingStep is { } step)
        {
            request.Deny(step, ServerShutdownCode);
        }
        else
        {
            request.AnsweredWith(ServerShutdownCode);
        }
    }

    /// <summary>Why the body of a started response went no further, when the client's connection ended under it.</summary>
    public string IncompleteReason(HttpContext context) =>
        DrainEnded ? ServerShutdownCode
        : context.Features.Get<KestrelConnectionAbort>()?.Reason is { Message: ResponseDataRateMessage } ? ResponseTimeoutCode
        : EdgeRequestMiddleware.ClientAbortedCode;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        // The same token the host passes on to Kestrel's stop: it fires when the drain window ends.
        _stop = cancellationToken;
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
