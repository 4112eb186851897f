namespace Edge.Proxy.Pipeline;

/// <summary>Where authentication leaves its results in <see cref="EdgeRequestContext.Items"/> for later steps.</summary>
public static class EdgeIdentityItems
{
    public const string IdentityKey = "edge.auth.identity";
    internal const string ChallengeKey = "edge.auth.challenge";
    internal const string SigningKey = "edge.auth.identity-signing-key";

    /// <summary>The identity the route's <c>EdgeAuthenticate</c> step established, or null (anonymous or not run).</summary>
    public static EdgeIdentity? GetIdentity(this EdgeRequestContext request) =>
        request.Items.TryGetValue(IdentityKey, out var value) ? value as EdgeIdentity : null;
}
