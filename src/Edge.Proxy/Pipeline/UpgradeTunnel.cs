using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The relay of an upgraded connection (HTTP/1.1 <c>Upgrade</c> answered 101, HTTP/2 extended <c>CONNECT</c> answered
/// 200). The request's record is written at the switch, before any tunnelled byte: this counts what crossed the tunnel
/// and says how it ended. Installed only on upgrade requests, in place of Kestrel's upgrade feature, whose stream YARP
/// relays: it wraps that stream, so the edge does nothing more per byte than two additions, and nothing on other requests.
/// </summary>
internal sealed class UpgradeTunnel : IHttpUpgradeFeature, IHttpExtendedConnectFeature
{
    public const string ClientClosedCode = "client_closed";
    public const string BackendClosedCode = "backend_closed";
    public const string ActivityTimeoutCode = "activity_timeout";
    public const string ErrorCode = "error";

    private readonly IHttpUpgradeFeature? _upgrade;
    private readonly IHttpExtendedConnectFeature? _connect;
    private readonly TimeProvider _time;
    private long _openedAt;
    private long _fromClient;
    private long _toClient;
    private bool _clientEnded;

    private UpgradeTunnel(IHttpUpgradeFeature? upgrade, IHttpExtendedConnectFeature? connect, TimeProvider time)
    {
        _upgrade = upgrade;
        _connect = connect;
        _time = time;
    }

    /// <summary>Whether the switch was answered and the tunnel relayed: only then does it have an end to record.</summary>
    public bool IsOpen { get; private set; }

    /// <summary>
    /// Puts a counting tunnel in front of the request's upgrade feature when it is an upgrade request (the test YARP
    /// makes too); null, and the request untouched, otherwise. Extended CONNECT is looked for only on a CONNECT.
    /// </summary>
    public static UpgradeTunnel? TryInstall(HttpContext context, TimeProvider time)
    {
        if (HttpMethods.IsConnect(context.Request.Method))
        {
            if (context.GetFeature<IHttpExtendedConnectFeature>() is not { IsExtendedConnect: true } connect)
            {
                return null;
            }

            var tunnel = new UpgradeTunnel(null, connect, time);
            context.SetFeature<IHttpExtendedConnectFeature>(tunnel);
            return tunnel;
        }

        if (context.GetFeature<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true } upgrade)
        {
            return null;
        }

        var upgraded = new UpgradeTunnel(upgrade, null, time);
        context.SetFeature<IHttpUpgradeFeature>(upgraded);
        return upgraded;
    }

    bool IHttpUpgradeFeature.IsUpgradableRequest => _upgrade?.IsUpgradableRequest ?? false;

    bool IHttpExtendedConnectFeature.IsExtendedConnect => _connect?.IsExtendedConnect ?? false;

    string? IHttpExtendedConnectFeature.Protocol => _connect?.Protocol;

    async Task<Stream> IHttpUpgradeFeature.UpgradeAsync()
    {
        var upgrade = _upgrade ?? throw new InvalidOperationException("Not an HTTP/1.1 upgrade request.");
        return Open(await upgrade.UpgradeAsync().ConfigureAwait(false));
    }

    async ValueTask<Stream> IHttpExtendedConnectFeature.AcceptAsync()
    {
        var connect = _connect ?? throw new InvalidOperationException("Not an extended CONNECT request.");
        return Open(await connect.AcceptAsync().ConfigureAwait(false));
    }

    private TunnelStream Open(Stream client)
    {
        _openedAt = _time.GetTimestamp();
        IsOpen = true;
        return new TunnelStream(client, this);
    }

    /// <summary>
    /// How the relay ended, once YARP returned (both directions copied): by the forwarder's error, and with none, by the
    /// side whose stream ended first. A shutdown's drain window ending aborts the client's connection, which YARP sees as
    /// the client's failure or cancellation: after it, the client's end is the shutdown's.
    /// </summary>
    public TunnelEnd End(HttpContext context, bool drainEnded)
    {
        var error = context.Features[typeof(IForwarderErrorFeature)] is IForwarderErrorFeature { Error: not ForwarderError.None } failure
            ? failure.Error
            : ForwarderError.None;
        var reason = error switch
        {
            ForwarderError.None => _clientEnded ? ClientClosedCode : BackendClosedCode,
            ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseClient
                or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled => ClientClosedCode,
            ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination => BackendClosedCode,
            ForwarderError.UpgradeActivityTimeout => ActivityTimeoutCode,
            _ => ErrorCode,
        };
        if (reason == ClientClosedCode && drainEnded)
        {
            reason = ServerAborts.ServerShutdownCode;
        }

        return new TunnelEnd(reason, error == ForwarderError.None ? null : error.ToString(), _fromClient, _toClient, _time.GetElapsedTime(_openedAt));
    }

    /// <summary>
    /// The client's side of the tunnel. YARP reads it on one task and writes it on another, so each counter has one writer;
    /// both are read after YARP awaited the two.
    /// </summary>
    private sealed class TunnelStream(Stream inner, UpgradeTunnel tunnel) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanWrite => inner.CanWrite;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            tunnel._fromClient += read;
            // YARP's zero-byte reads (waiting for data without a buffer) return 0 too: only a real read's 0 is the end.
            if (read == 0 && !buffer.IsEmpty)
            {
                tunnel._clientEnded = true;
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            tunnel._toClient += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// How an upgraded connection's relay ended: <see cref="Reason"/> (which side ended it, or the shutdown, or the
/// activity timeout), YARP's error when it ended on one, and the bytes relayed each way over <see cref="Duration"/>.
/// </summary>
internal readonly record struct TunnelEnd(string Reason, string? Error, long BytesFromClient, long BytesToClient, TimeSpan Duration);
