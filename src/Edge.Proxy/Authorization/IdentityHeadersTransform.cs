using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Runs after every edge step of an authenticated route and tells the backend who is calling: the principal and roles,
/// and, when the policy signs identities, a timestamp and an HMAC over them and the tenant (see
/// <see cref="IdentitySignature"/>). Running last means the tenant is known whichever order the steps are listed in.
/// </summary>
internal sealed class IdentityHeadersTransform(IdentityHeaderNames names, TimeProvider time) : RequestTransform
{
    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;
        var request = http.GetEdgeRequest();
        if (request is null || request.IsDenied || http.Response.HasStarted || http.Response.StatusCode != StatusCodes.Status200OK)
        {
            return ValueTask.CompletedTask;
        }

        var authentication = http.GetIdentity() as AuthenticationFeature;
        if (authentication?.Identity is not { } identity)
        {
            return ValueTask.CompletedTask;
        }

        var roles = identity.JoinedRoles;
        Set(context, names.Principal, identity.Principal);
        RemoveHeader(context, names.Roles);
        if (roles.Length > 0)
        {
            context.ProxyRequest.Headers.TryAddWithoutValidation(names.Roles, roles);
        }

        if (authentication.SigningKey is { } key)
        {
            var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
            var signature = IdentitySignature.Compute(key, timestamp, request.RequestId, http.Request.Method, RequestTarget(context), identity.Principal, http.GetTenant()?.Tenant, roles);
            Set(context, names.Timestamp, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Set(context, names.Signature, signature);
        }

        return ValueTask.CompletedTask;
    }

    // The route's own transforms (path and query ones included) have run: YARP applies providers after them, and the
    // destination address is built from the same values once the last transform is done (by EncodedSlashTransform when
    // the client sent an encoded slash, else by YARP). Signing its path and query signs the target the backend receives.
    private static string RequestTarget(RequestTransformContext context) =>
        EncodedSlashTransform.DestinationAddress(context).PathAndQuery;

    private static void Set(RequestTransformContext context, string name, string value)
    {
        RemoveHeader(context, name);
        context.ProxyRequest.Headers.TryAddWithoutValidation(name, value);
    }
}
