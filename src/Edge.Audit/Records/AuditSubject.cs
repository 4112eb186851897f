namespace Edge.Audit.Records;

/// <summary>
/// The personal part of a record (principal, client IP). Today it is stored with protection <c>none</c>;
/// a later version replaces it in the leaf with <c>{"protection":"aes-256-gcm","keyId":...,"nonce":...,"ciphertext":...}</c>
/// under a per-subject key, so destroying that key erases the fields while every proof stays valid.
/// </summary>
public sealed record AuditSubject
{
    public static readonly AuditSubject Empty = new();

    public string? Principal { get; init; }

    public string? ClientIp { get; init; }
}
