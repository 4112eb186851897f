using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The connection as Kestrel's HTTP layer sees it, keeping the first reason Kestrel gave when it aborted the connection
/// itself. An HTTP/2 body slower than <c>MinRequestBodyDataRate</c> ends the whole connection; whether the streams on it
/// then fail with that reason or with a bare "connection faulted" is a race inside Kestrel, so the request would look
/// like a client that went away. The request finds the recorder as a connection feature.
/// </summary>
internal sealed class KestrelConnectionAbort(ConnectionContext inner) : ForwardingConnectionContext(inner)
{
    private ConnectionAbortedException? _reason;

    /// <summary>The first reason the connection was aborted with, by Kestrel or the application; null while it is not.</summary>
    public ConnectionAbortedException? Reason => Volatile.Read(ref _reason);

    /// <summary>
    /// Why Kestrel ended the connection, as its metrics will tag it (<c>error.type</c>); null while it has not. Kestrel's
    /// HTTP/2 timeout (Http2Connection.Abort) sets it before it writes the GOAWAY and only then passes its reason to
    /// <see cref="Abort(ConnectionAbortedException)"/>: a client that closes the connection on that GOAWAY, or a DATA frame
    /// that wakes the read loop, aborts the streams before the reason arrives, and the client's close then takes the
    /// frame writer's one abort, so the reason never does. The end reason keeps the first, and is set before both.
    /// </summary>
    public string? EndReason => KestrelEndReason.Read(Inner.Features);

    /// <summary>Puts the recorder between the connection and the rest of the endpoint's middleware (Kestrel's HTTP layer last).</summary>
    public static void Use(ListenOptions listen) =>
        listen.Use(static next => connection =>
        {
            var recorder = new KestrelConnectionAbort(connection);
            connection.Features.Set(recorder);
            return next(recorder);
        });

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _reason, abortReason, null);
        base.Abort(abortReason);
    }
}
