using System.Net;
using System.Security.Cryptography;
using System.Text;
using Edge.Configuration;
using Edge.Proxy.Pipeline;
using Edge.Shared;
using Microsoft.Extensions.Primitives;

namespace Edge.Proxy.Observability;

/// <summary>
/// Who the management listener answers. <b>Host</b>: a web page an operator opens can resolve its own name to
/// 127.0.0.1 (DNS rebinding) and then read /edge/status and ban or unban clients from the operator's browser as the
/// same origin; such a request names the page's host. So the listener answers only a Host that is an IP literal
/// (probes and scrapers by address need no setting), <c>localhost</c>, a host of <c>Edge:ManagementUrls</c> or a name in
/// <c>Edge:ManagementHosts</c>. <b>Token</b>: with <c>Edge:ManagementToken</c> set, /edge/status and the bans API take
/// only <c>Authorization: Bearer</c> with it; /healthz, /readyz and /metrics stay open for probes and scrapers.
/// Checked only for connections on the management port, so the proxy port's requests pay nothing for it.
/// </summary>
internal sealed partial class ManagementAccess
{
    public const string HostsKey = "Edge:ManagementHosts";
    public const string TokenKey = "Edge:ManagementToken";
    public const string HostNotAllowedCode = "management_host_not_allowed";
    public const string TokenRequiredCode = "management_token_required";
    public const string TokenInvalidCode = "management_token_invalid";

    /// <summary>Shorter tokens are refused at start: the management port has no ban rules to slow a guesser down.</summary>
    public const int MinTokenLength = 16;

    private const string Challenge = "Bearer realm=\"edge-management\"";
    private const string InvalidChallenge = "Bearer realm=\"edge-management\", error=\"invalid_token\"";

    private readonly StringSegment[] _names;
    private readonly bool _anyHost;
    private readonly byte[]? _tokenHash;

    private ManagementAccess(StringSegment[] names, bool anyHost, byte[]? tokenHash, IReadOnlyList<string> exposedUrls)
    {
        _names = names;
        _anyHost = anyHost;
        _tokenHash = tokenHash;
        ExposedUrls = exposedUrls;
    }

    /// <summary>Whether /edge/status and the bans API need a bearer token.</summary>
    public bool TokenRequired => _tokenHash is not null;

    /// <summary>Management URLs that bind an address other than loopback (all interfaces, a name, a routable IP).</summary>
    public IReadOnlyList<string> ExposedUrls { get; }

    public static void AddTo(WebApplicationBuilder builder, EdgeHostOptions options)
    {
        builder.Services.AddSingleton(Create(options.ManagementHosts, options.ManagementToken, options.ManagementUrls));
        builder.Services.AddSingleton<ManagementRefusals>();
    }

    /// <summary>Parses the settings; fails at start-up, naming the setting, on a malformed host or an unusable token.</summary>
    public static ManagementAccess Create(string? hosts, string? tokenReference, string managementUrls)
    {
        var names = new List<StringSegment>();
        var anyHost = false;
        foreach (var entry in (hosts ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry == "*")
            {
                anyHost = true;
                continue;
            }

            if (!AllowedHosts.IsHostEntry(entry) || (entry.Contains('*', StringComparison.Ordinal) && !entry.StartsWith("*.", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException(
                    $"{HostsKey} entry '{entry}' is not a host name: give the host without scheme, port or path (edge-admin.internal, *.ops.example), or * for any.");
            }

            names.Add(new StringSegment(entry));
        }

        var exposed = new List<string>();
        foreach (var url in managementUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var wildcard = url.Contains("://*", StringComparison.Ordinal) || url.Contains("://+", StringComparison.Ordinal);
            if (wildcard || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                exposed.Add(url);
                continue;
            }

            // An operator who binds the listener to a name reaches it by that name.
            if (!RebindingSafeHost.IsLiteralOrLocalhost(uri.Host))
            {
                names.Add(new StringSegment(uri.Host));
            }

            if (!string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
                && !(IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address)))
            {
                exposed.Add(url);
            }
        }

        return new ManagementAccess([.. names], anyHost, ResolveToken(tokenReference), exposed);
    }

    private static byte[]? ResolveToken(string? reference)
    {
        if (string.IsNullOrEmpty(reference))
        {
            return null;
        }

        // A literal token would sit in appsettings.json, the command line (ps) or the environment listing.
        if (!SecretReference.IsReference(reference))
        {
            throw new InvalidOperationException(
                $"{TokenKey} must be a secret reference, env:NAME or file:/path, not the token itself (e.g. {TokenKey}=env:EDGE_MANAGEMENT_TOKEN).");
        }

        if (!SecretReference.TryResolve(reference, out var token, out var error))
        {
            throw new InvalidOperationException($"{TokenKey}: {error}");
        }

        if (token.Length < MinTokenLength || token.Any(char.IsWhiteSpace))
        {
            throw new InvalidOperationException(
                $"{TokenKey}: the token must be at least {MinTokenLength} characters without spaces (e.g. openssl rand -hex 32).");
        }

        return SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>One warning at start when the listener is reachable beyond loopback and nothing guards the bans API.</summary>
    public void WarnIfExposed(ILogger logger)
    {
        if (ExposedUrls.Count > 0 && !TokenRequired)
        {
            Log.ExposedWithoutToken(logger, string.Join(';', ExposedUrls));
        }
    }

    /// <summary>True for an IP literal, <c>localhost</c>, a listed name, and a request without a Host (HTTP/1.0, no browser).</summary>
    public bool AllowsHost(HttpRequest request)
    {
        var host = request.Host;
        if (_anyHost || !host.HasValue)
        {
            return true;
        }

        return RebindingSafeHost.IsLiteralOrLocalhost(host.Host) || HostString.MatchesAny(new StringSegment(host.Value), _names);
    }

    /// <summary>True when the endpoint needs no token, or the request carries the configured one.</summary>
    public bool Authorizes(HttpRequest request, Endpoint endpoint, out bool presented)
    {
        presented = false;
        if (_tokenHash is null || endpoint.Metadata.GetMetadata<ManagementTokenRequired>() is null)
        {
            return true;
        }

        var values = request.Headers.Authorization;
        if (values.Count == 0)
        {
            return false;
        }

        presented = true;
        const string scheme = "Bearer ";
        if (values.Count != 1 || values[0] is not { } value || value.Length <= scheme.Length
            || !value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Hashes of equal length, compared in constant time: neither the token's bytes nor its length show in the timing.
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(value[scheme.Length..].Trim()), hash);
        return CryptographicOperations.FixedTimeEquals(hash, _tokenHash);
    }

    // 421: the request is well formed but names a host this listener does not serve (RFC 9110 15.5.20); a token would not change that.
    public static Task HostNotAllowedAsync(HttpContext context) =>
        ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status421MisdirectedRequest, HostNotAllowedCode, "Host not allowed",
            $"The management listener answers an IP address, localhost or a name in {HostsKey}, not the host this request names.");

    public static Task UnauthorizedAsync(HttpContext context, bool presented)
    {
        context.Response.Headers.WWWAuthenticate = presented ? InvalidChallenge : Challenge;
        return presented
            ? ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status401Unauthorized, TokenInvalidCode, "Management token invalid",
                "The bearer token is not the management token of this edge.")
            : ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status401Unauthorized, TokenRequiredCode, "Management token required",
                $"This endpoint needs Authorization: Bearer with the token {TokenKey} names.");
    }

    /// <summary>A client's Host for a log line: at most a DNS name's length.</summary>
    public static string Printable(string host) => host.Length <= 253 ? host : host[..253];

    internal static partial class Log
    {
        [LoggerMessage(1700, LogLevel.Warning, "Management request refused: Host {Host} is not an IP address, localhost or a name in Edge:ManagementHosts (client {ClientIp}); {Unlogged} more refused for their Host since the previous such line (at most one a minute; edge_management_refusals_total counts them all)")]
        public static partial void HostRefused(ILogger logger, string host, string? clientIp, long unlogged);

        [LoggerMessage(1701, LogLevel.Warning, "Management request refused: invalid bearer token (client {ClientIp}); {Unlogged} more refused for their token since the previous such line (at most one a minute; edge_management_refusals_total counts them all)")]
        public static partial void TokenRefused(ILogger logger, string? clientIp, long unlogged);

        [LoggerMessage(1702, LogLevel.Warning, "The management listener {Urls} is reachable beyond loopback and Edge:ManagementToken is not set: anyone who reaches it can read /edge/status and ban or unban clients")]
        public static partial void ExposedWithoutToken(ILogger logger, string urls);
    }
}
