namespace Edge.Proxy.Pipeline;

/// <summary>
/// A credential bound to a tenant may only be used for that tenant. Whichever of <c>EdgeAuthenticate</c> and
/// <c>EdgeTenant</c> runs second calls this, so the order of the two steps on a route does not matter.
/// </summary>
internal static class TenantBinding
{
    public static EdgeDenial? Check(HttpContext context)
    {
        if (context.GetIdentity()?.Identity is { Tenant: { } bound } && context.GetTenant()?.Tenant is { } named && !string.Equals(bound, named, StringComparison.Ordinal))
        {
            return new EdgeDenial(
                StatusCodes.Status403Forbidden,
                AuthenticationCodes.TenantMismatch,
                "Tenant mismatch",
                "The credential belongs to a different tenant than the one this request names.")
            {
                Reason = AuthenticationCodes.TenantMismatch,
            };
        }

        return null;
    }
}
