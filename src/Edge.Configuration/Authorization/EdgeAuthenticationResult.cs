using System.Diagnostics.CodeAnalysis;

namespace Edge.Configuration.Authorization;

/// <summary>
/// The outcome of validating one request's credential: an <see cref="EdgeIdentity"/>, or a failure with a stable
/// <see cref="FailureCode"/> (see <see cref="AuthenticationCodes"/>), a precise <see cref="FailureReason"/> for audit and
/// metrics, and the <c>WWW-Authenticate</c> challenge to send.
/// </summary>
public sealed record EdgeAuthenticationResult
{
    public EdgeIdentity? Identity { get; init; }

    [MemberNotNullWhen(true, nameof(Identity))]
    [MemberNotNullWhen(false, nameof(FailureCode), nameof(FailureReason), nameof(Challenge))]
    public bool Succeeded => Identity is not null;

    public string? FailureCode { get; init; }

    /// <summary>For example <c>token_invalid:signature</c>; never contains the credential.</summary>
    public string? FailureReason { get; init; }

    /// <summary>Safe to show to the client.</summary>
    public string? FailureDetail { get; init; }

    /// <summary>401, or 503 when keys cannot be fetched.</summary>
    public int FailureStatus { get; init; } = StatusCodes.Status401Unauthorized;

    public string? Challenge { get; init; }

    /// <summary>The principal a failed credential claimed (unverified), for brute-force counting only.</summary>
    public string? ClaimedPrincipal { get; init; }

    public static EdgeAuthenticationResult Success(EdgeIdentity identity) => new() { Identity = identity };

    public static EdgeAuthenticationResult Fail(string code, string reason, string detail, string challenge, string? claimedPrincipal = null, int status = StatusCodes.Status401Unauthorized) =>
        new() { FailureCode = code, FailureReason = reason, FailureDetail = detail, Challenge = challenge, ClaimedPrincipal = claimedPrincipal, FailureStatus = status };
}
