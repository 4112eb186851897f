namespace Edge.Configuration.Authorization;

/// <summary>One way of presenting a credential (a bearer token, an API key header).</summary>
internal interface ICredentialScheme
{
    /// <summary><c>jwt</c> or <c>api-key</c>.</summary>
    string Method { get; }

    /// <summary>The request header that carries the credential.</summary>
    string CredentialHeader { get; }

    /// <summary>The <c>WWW-Authenticate</c> value for a request that presented no credential.</summary>
    string Challenge { get; }

    bool HasCredential(HttpRequest request);

    ValueTask<EdgeAuthenticationResult> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken);
}
