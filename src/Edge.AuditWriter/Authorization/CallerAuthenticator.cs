using Edge.AuditWriter.Api;
using Edge.AuditWriter.Hosting;
using Edge.Configuration;
using Edge.Configuration.Authorization;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Authorization;

/// <summary>
/// Authenticates read-API callers with the edge's own validator for the proxy.json entry named by
/// Writer:Authentication (same API-key / JWT / JWKS rules, same Edge:Roles permission mapping).
/// </summary>
/// <remarks>
/// proxy.json is re-read when its size or write time changes (checked per call, a stat), as the edge reloads it: a key
/// removed there must stop reading and erasing here too. An edit the validator refuses keeps the last good entry.
/// </remarks>
internal sealed partial class CallerAuthenticator : IDisposable
{
    private readonly string? _path;
    private readonly string? _policy;
    private readonly ILogger<CallerAuthenticator> _logger;
    private readonly SigningKeyCache _keys;
    private Loaded? _loaded;

    public CallerAuthenticator(IOptions<WriterOptions> options, ILogger<CallerAuthenticator> logger)
    {
        _logger = logger;
        // Kept across reloads of proxy.json, as the edge keeps its cache: fetched keys must not be. Every failed fetch is
        // logged, as the edge logs it (event 1200): a 503 authentication_unavailable otherwise had no cause in the log.
        _keys = new SigningKeyCache((address, error) => Log.SigningKeyFetchFailed(_logger, address, error.GetType().Name, error.Message));
        var writer = options.Value;
        if (string.IsNullOrEmpty(writer.ProxyConfigPath) || string.IsNullOrEmpty(writer.Authentication))
        {
            return;
        }

        _path = Path.GetFullPath(writer.ProxyConfigPath);
        _policy = writer.Authentication;
        var stamp = Stamp(_path);
        _loaded = new Loaded(EdgeAuthenticationConfiguration.CreateValidator(_path, _policy, _keys), stamp);
    }

    /// <summary>Sent on 401 when no Writer:Authentication entry is configured: nothing can succeed, but RFC 9110 requires a challenge.</summary>
    public const string UnconfiguredChallenge = "Bearer realm=\"edge-audit\"";

    /// <summary>
    /// The caller, or null with the answer to send instead: 401 with the <c>WWW-Authenticate</c> challenge of the
    /// configured entry when the request carries no valid credentials, 503 when its JWT signing keys cannot be fetched.
    /// </summary>
    public async Task<(AuditCaller? Caller, IResult? Refusal)> AuthenticateAsync(HttpRequest request)
    {
        if (Current() is not { } validator)
        {
            return (null, Unauthenticated(UnconfiguredChallenge));
        }

        var result = await validator.AuthenticateAsync(request, request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            // A 401 here told an auditor with a valid token that it was not accepted while the identity provider was down.
            return (null, result.FailureStatus == StatusCodes.Status503ServiceUnavailable
                ? Problems.Create(StatusCodes.Status503ServiceUnavailable, result.FailureCode, "Authentication unavailable", result.FailureDetail)
                : Unauthenticated(result.Challenge ?? validator.Challenge));
        }

        var identity = result.Identity;
        return (new AuditCaller(
            identity.Principal,
            identity.Tenant,
            identity.Permissions.Has(AuditCaller.ReadAllPermission),
            identity.Permissions.Has(AuditCaller.ReadPermission),
            identity.Permissions.Has(AuditCaller.ErasePermission),
            identity.Permissions.Has(AuditCaller.TilesPermission)), null);
    }

    private static IResult Unauthenticated(string challenge) =>
        Problems.Unauthorized("unauthenticated", "Valid auditor credentials are required.", challenge);

    private EdgeCredentialValidator? Current()
    {
        var loaded = Volatile.Read(ref _loaded);
        if (loaded is null || _path is null || _policy is null)
        {
            return loaded?.Validator;
        }

        var stamp = Stamp(_path);
        if (stamp == loaded.Stamp)
        {
            return loaded.Validator;
        }

        try
        {
            var reloaded = new Loaded(EdgeAuthenticationConfiguration.CreateValidator(_path, _policy, _keys), stamp);
            Volatile.Write(ref _loaded, reloaded);
            Log.Reloaded(_logger, _path);
            return reloaded.Validator;
        }
        catch (Exception ex) when (ex is EdgeConfigException or IOException or UnauthorizedAccessException)
        {
            // Keep the last good entry, and do not retry this same file version on every call.
            Volatile.Write(ref _loaded, loaded with { Stamp = stamp });
            Log.ReloadRefused(_logger, _path, ex.Message);
            return loaded.Validator;
        }
    }

    // Through symbolic links: on a Kubernetes ConfigMap mount the link itself never changes (see FileStamp).
    private static (DateTime WrittenAt, long Length) Stamp(string path) => FileStamp.Of(path);

    private sealed record Loaded(EdgeCredentialValidator Validator, (DateTime WrittenAt, long Length) Stamp);

    public void Dispose() => _keys.Dispose();

    private static partial class Log
    {
        [LoggerMessage(2170, LogLevel.Information, "Read-API credentials reloaded from {Path}")]
        public static partial void Reloaded(ILogger logger, string path);

        [LoggerMessage(2171, LogLevel.Warning, "Read-API credentials not reloaded from {Path}; the previous ones stay in force: {Reason}")]
        public static partial void ReloadRefused(ILogger logger, string path, string reason);

        // The address and the error's message only: a fetch carries no token, and its stack says nothing about the answer.
        [LoggerMessage(2172, LogLevel.Warning, "Signing keys at {Address} could not be fetched ({ErrorType}: {Error}); the last good keys keep serving, and until any are fetched read-API tokens are answered 503 authentication_unavailable")]
        public static partial void SigningKeyFetchFailed(ILogger logger, string address, string errorType, string error);
    }
}
