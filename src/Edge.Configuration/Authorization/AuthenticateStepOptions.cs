namespace Edge.Configuration.Authorization;

/// <summary>
/// Options of one <c>EdgeAuthenticate</c> entry: <c>{ "EdgeAuthenticate": "corp-jwt,partner-keys", "ForwardAuthorization": "false" }</c>.
/// </summary>
internal sealed record AuthenticateStepOptions
{
    /// <summary>The <c>Edge:Authentication</c> entries to accept (the first whose credential is present is used), or empty for Anonymous.</summary>
    public IReadOnlyList<string> Policies { get; init; } = [];

    public bool Anonymous { get; init; }

    /// <summary>Send the client's credential header (Authorization or the API key header) on to the backend. Default false.</summary>
    public bool ForwardAuthorization { get; init; }

    /// <summary>Sign the identity headers; defaults to true when every policy has an <c>IdentitySigningKey</c>.</summary>
    public bool? SignIdentity { get; init; }
}
