namespace Edge.Proxy.Pipeline;

/// <summary>A credential of <see cref="Method"/> was presented and refused: the record names its kind, never a principal.</summary>
internal sealed class RefusedCredentialFeature(string method) : IEdgeIdentityFeature
{
    public string Method { get; } = method;

    public EdgeIdentity? Identity => null;
}
