using System.Security.Cryptography;
using System.Text;
using Edge.Configuration;
using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Ingest;

/// <summary>Checks the edges' shared ingest bearer token (Writer:IngestToken), in constant time.</summary>
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

    public bool IsAllowed(HttpRequest request)
    {
        if (_expectedHash is null)
        {
            return true;
        }

        var header = request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _expectedHash);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writer:IngestToken is not set: anyone who can reach this port can append audit records")]
        public static partial void IngestOpen(ILogger logger);
    }
}
