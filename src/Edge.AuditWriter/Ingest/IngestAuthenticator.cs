using System.Net;
using System.Security.Cryptography;
using System.Text;
using Edge.Configuration;
using Edge.AuditWriter.Hosting;
using Edge.Shared;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Ingest;

/// <summary>
/// Checks the edges' shared ingest bearer token (Writer:IngestToken), in constant time. Without a token, ingest is open
/// only to clients on this machine (decided by the connection) that name the writer by an IP literal or <c>localhost</c>:
/// a web page in a browser on this host that rebinds its own DNS name to 127.0.0.1 sends its own name as Host, and must
/// not append records the log would then sign.
/// </summary>
internal sealed partial class IngestAuthenticator
{
    /// <summary>The <c>WWW-Authenticate</c> value of a refused ingest (RFC 6750 bearer token).</summary>
    public const string Challenge = "Bearer realm=\"edge-audit-ingest\"";

    private readonly byte[]? _expectedHash;

    public IngestAuthenticator(IOptions<WriterOptions> options, ILogger<IngestAuthenticator> logger)
    {
        var reference = options.Value.IngestToken;
        if (string.IsNullOrEmpty(reference))
        {
            Log.IngestOpen(logger);
            return;
        }

        if (!SecretReference.TryResolve(reference, out var token, out var error))
        {
            throw new InvalidOperationException($"Writer:IngestToken: {error}");
        }

        _expectedHash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Whether ingest runs without a token (and so only from this machine).</summary>
    public bool IsOpen => _expectedHash is null;

    public bool IsAllowed(HttpContext context)
    {
        var request = context.Request;
        if (_expectedHash is null)
        {
            return IsLoopback(context.Connection.RemoteIpAddress) && NamesThisMachineLiterally(request.Host);
        }

        var header = request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _expectedHash);
    }

    private static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    // A request without Host (HTTP/1.0) is not a browser's.
    private static bool NamesThisMachineLiterally(HostString host) =>
        !host.HasValue || RebindingSafeHost.IsLiteralOrLocalhost(host.Host);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writer:IngestToken is not set: only clients on this machine (loopback, addressed by IP or localhost) can append audit records; set it to accept edges from other hosts")]
        public static partial void IngestOpen(ILogger logger);
    }
}
