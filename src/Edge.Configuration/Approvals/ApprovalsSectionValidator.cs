using Edge.Configuration.Authorization;

namespace Edge.Configuration.Approvals;

/// <summary>Checks every <c>Edge:Approvals</c> policy against the candidate <c>Edge:Authentication</c> and <c>Edge:Roles</c>.</summary>
internal sealed class ApprovalsSectionValidator(EdgeHostOptions host) : IEdgeSectionValidator
{
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(7);

    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        foreach (var (name, policy) in edge.Approvals)
        {
            var at = $"Edge:Approvals:{name}";
            if (policy is null)
            {
                errors.Add(at, "the policy is null");
                continue;
            }

            ValidatePermission(edge, policy, at, errors);
            ValidateAuthentication(edge, policy, at, errors);
            if (policy.Ttl < TimeSpan.FromSeconds(1) || policy.Ttl > MaxTtl)
            {
                errors.Add(at + ":Ttl", $"'{policy.Ttl}' must be between 00:00:01 and {MaxTtl:d\\.hh\\:mm\\:ss}");
            }

            ValidateHeader(policy.Header, at + ":Header", errors);
            ValidateBindHeaders(policy, at + ":BindHeaders", errors);
            if (policy.Notify is { } notify)
            {
                ValidateNotify(notify, at + ":Notify", errors);
            }
        }

        // The approvals API signs a caller in with the first policy, over every approval policy's list, whose credential
        // the request carries: a later one reading the same header would never sign anyone in.
        var signIn = edge.Approvals.Values.Where(p => p is not null).SelectMany(AuthenticationPolicies).Distinct(StringComparer.Ordinal);
        if (AuthenticationPolicyRules.FindShadowed(signIn, edge.Authentication) is { } shadowed)
        {
            errors.Add("Edge:Approvals", $"approvers sign in through '{shadowed.First}' and '{shadowed.Shadowed}', which both read the {shadowed.Header} header: " +
                $"the approvals API tries the first listed, so '{shadowed.Shadowed}' would never sign anyone in; use one policy per credential header");
        }
    }

    /// <summary>The names of <see cref="ApprovalPolicyOptions.Authentication"/>, in order.</summary>
    public static string[] AuthenticationPolicies(ApprovalPolicyOptions policy) =>
        policy.Authentication.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The HMAC key of a Notify secret (<c>whsec_</c> + base64, as Standard Webhooks defines it), or null with an error.</summary>
    public static byte[]? ResolveNotifyKey(string reference, out string error)
    {
        if (!SecretReference.IsReference(reference) || !SecretReference.TryResolve(reference, out var secret, out error))
        {
            error = SecretReference.IsReference(reference) ? SecretResolveError(reference) : SecretReference.NotAReference(reference);
            return null;
        }

        const string prefix = "whsec_";
        byte[]? key = null;
        if (secret.StartsWith(prefix, StringComparison.Ordinal))
        {
            try
            {
                key = Convert.FromBase64String(secret[prefix.Length..]);
            }
            catch (FormatException)
            {
                key = null;
            }
        }

        if (key is not { Length: >= 24 and <= 64 })
        {
            error = "the secret must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 bytes";
            return null;
        }

        error = "";
        return key;
    }

    /// <summary>
    /// The Notify URL, given inline or as an <c>env:</c>/<c>file:</c> reference (a chat webhook's URL often is its secret,
    /// as Slack's <c>/services/…</c> path is); null with <paramref name="error"/> when it is not an absolute http(s) URL
    /// without user info. An error repeats an inline URL without its user info, and a referenced one not at all.
    /// </summary>
    public static Uri? ResolveNotifyUrl(string configured, out string error)
    {
        var text = configured;
        var shown = $"'{UrlText.WithoutUserInfo(configured)}'";
        if (SecretReference.IsReference(configured))
        {
            if (!SecretReference.TryResolve(configured, out text, out error))
            {
                return null;
            }

            shown = $"the value of '{configured}'";
        }

        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            error = $"{shown} is not an absolute https or http URL";
            return null;
        }

        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            error = "the URL has a user name or password ('user:password@'): HttpClient never sends them, and a secret in proxy.json must be an env: or file: reference; remove it";
            return null;
        }

        error = "";
        return url;
    }

    private static string SecretResolveError(string reference)
    {
        SecretReference.TryResolve(reference, out _, out var error);
        return error;
    }

    private static void ValidatePermission(EdgeSection edge, ApprovalPolicyOptions policy, string at, ConfigErrorList errors)
    {
        var permission = policy.ApproverPermission;
        if (string.IsNullOrWhiteSpace(permission))
        {
            errors.Add(at + ":ApproverPermission", "is required: the permission (from Edge:Roles) an approver needs");
            return;
        }

        if (permission == EdgePermissionResolver.AllPermissions || !CredentialText.IsValidPermission(permission))
        {
            errors.Add(at + ":ApproverPermission", $"'{permission}' is not a permission (1-{CredentialText.MaxRoleLength} characters from [A-Za-z0-9._:-])");
            return;
        }

        // A permission no role grants can never be held: a typo would make every request wait forever.
        if (!edge.Roles.Values.Any(granted => granted.Contains(permission, StringComparer.Ordinal)))
        {
            errors.Add(at + ":ApproverPermission", $"unknown permission '{permission}': no role in Edge:Roles grants it");
        }
    }

    private static void ValidateAuthentication(EdgeSection edge, ApprovalPolicyOptions policy, string at, ConfigErrorList errors)
    {
        var names = AuthenticationPolicies(policy);
        if (names.Length == 0)
        {
            errors.Add(at + ":Authentication", "is required: the Edge:Authentication policies approvers sign in with, comma-separated");
            return;
        }

        foreach (var name in names)
        {
            if (string.Equals(name, AuthorizationSections.AnonymousPolicy, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(at + ":Authentication", "an approver must be authenticated; 'Anonymous' is not allowed");
            }
            else if (!edge.Authentication.ContainsKey(name))
            {
                errors.Add(at + ":Authentication", $"unknown authentication policy '{name}': it is not defined in Edge:Authentication");
            }
        }

        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            errors.Add(at + ":Authentication", "a policy is listed twice");
        }
    }

    private void ValidateHeader(string header, string at, ConfigErrorList errors)
    {
        if (string.IsNullOrEmpty(header) || !HttpToken.IsToken(header))
        {
            errors.Add(at, $"'{header}' is not a header name");
        }
        else if (IdentityHeaderPrefix.Covers(host.IdentityHeaderPrefix, header))
        {
            errors.Add(at, $"'{header}' starts with the identity prefix '{host.IdentityHeaderPrefix}' ('_' counting as '-'), whose client-sent copies the edge removes");
        }
        else if (string.Equals(header, "Authorization", StringComparison.OrdinalIgnoreCase) || string.Equals(header, "Cookie", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(at, $"'{header}' carries other credentials; use a header of its own such as X-Approval-Token");
        }
        else if (EdgeOwnedHeaders.WhyOwned(header) is { } owned)
        {
            errors.Add(at, $"{owned}; use a header of its own such as X-Approval-Token");
        }
    }

    // Not forwarded (hop-by-hop), carried anew on each retry (credentials, the token itself), or already bound.
    private static readonly HashSet<string> UnbindableHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Cookie", "Proxy-Authorization", "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", "Proxy-Connection", "Content-Length", "Content-Type", "Content-Encoding", "Host",
    };

    private void ValidateBindHeaders(ApprovalPolicyOptions policy, string at, ConfigErrorList errors)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < policy.BindHeaders.Count; i++)
        {
            var header = policy.BindHeaders[i];
            var entry = $"{at}:{i}";
            if (string.IsNullOrEmpty(header) || !HttpToken.IsToken(header))
            {
                errors.Add(entry, $"'{header}' is not a header name");
            }
            else if (UnbindableHeaders.Contains(header) || string.Equals(header, policy.Header, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(entry, $"'{header}' cannot be bound: credentials and the token change on each retry, hop-by-hop headers are not forwarded, and Content-Type and Content-Encoding are always bound");
            }
            else if (IdentityHeaderPrefix.Covers(host.IdentityHeaderPrefix, header))
            {
                errors.Add(entry, $"'{header}' starts with the identity prefix '{host.IdentityHeaderPrefix}' ('_' counting as '-'): the edge sets those itself, and the requester's identity is bound already");
            }
            else if (EdgeOwnedHeaders.WhyOwned(header) is { } owned)
            {
                // X-Request-Id differs on every retry, so an approval bound to it could never be used.
                errors.Add(entry, $"{owned}; it cannot be bound");
            }
            else if (!seen.Add(header))
            {
                errors.Add(entry, $"'{header}' is listed twice");
            }
        }
    }

    private static void ValidateNotify(ApprovalNotifyOptions notify, string at, ConfigErrorList errors)
    {
        if (ResolveNotifyUrl(notify.Url, out var urlError) is null)
        {
            errors.Add(at + ":Url", urlError);
        }

        if (ResolveNotifyKey(notify.Secret, out var error) is null)
        {
            errors.Add(at + ":Secret", error);
        }
    }
}
