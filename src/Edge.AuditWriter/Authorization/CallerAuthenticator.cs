using Edge.AuditWriter.Hosting;
using Edge.Configuration.Authorization;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Authorization;

/// <summary>
/// Authenticates read-API callers with the edge's own validator for the proxy.json entry named by
/// Writer:Authentication (same API-key / JWT / JWKS rules, same Edge:Roles permission mapping).
/// </summary>
internal sealed class CallerAuthenticator
{
    private readonly EdgeCredentialValidator? _validator;

    public CallerAuthenticator(IOptions<WriterOptions> options)
    {
        var writer = options.Value;
        if (string.IsNullOrEmpty(writer.ProxyConfigPath) || string.IsNullOrEmpty(writer.Authentication))
        {
            return;
        }

        _validator = EdgeAuthenticationConfiguration.CreateValidator(Path.GetFullPath(writer.ProxyConfigPath), writer.Authentication);
    }

    /// <summary>Sent on 401 when no Writer:Authentication entry is configured: nothing can succeed, but RFC 9110 requires a challenge.</summary>
    public const string UnconfiguredChallenge = "Bearer realm=\"edge-audit\"";

    /// <summary>
    /// The caller, or null with the <c>WWW-Authenticate</c> challenge of the configured entry when the request
    /// carries no valid credentials.
    /// </summary>
    public async Task<(AuditCaller? Caller, string Challenge)> AuthenticateAsync(HttpRequest request)
    {
        if (_validator is null)
        {
            return (null, UnconfiguredChallenge);
        }

        var result = await _validator.AuthenticateAsync(request, request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return (null, result.Challenge ?? _validator.Challenge);
        }

        var identity = result.Identity;
        return (new AuditCaller(
            identity.Principal,
            identity.Tenant,
            identity.Permissions.Has(AuditCaller.ReadAllPermission),
            identity.Permissions.Has(AuditCaller.ReadPermission),
            identity.Permissions.Has(AuditCaller.ErasePermission),
            identity.Permissions.Has(AuditCaller.TilesPermission)), _validator.Challenge);
    }
}
