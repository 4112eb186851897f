using Edge.Configuration.Authorization;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>
/// What <see cref="AuthenticateStep"/> left on the request: the identity other capabilities read through
/// <see cref="IEdgeIdentityFeature"/>, and what only Authorization needs later (the challenge of the credential's policy
/// for <c>EdgeRequire</c> refusals, the key that signs the identity headers).
/// </summary>
internal sealed class AuthenticationFeature(string method, EdgeIdentity? identity, string? challenge = null, byte[]? signingKey = null) : IEdgeIdentityFeature
{
    public string Method { get; } = method;

    public EdgeIdentity? Identity { get; } = identity;

    public string? Challenge { get; } = challenge;

    public byte[]? SigningKey { get; } = signingKey;
}
