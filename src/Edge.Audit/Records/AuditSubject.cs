namespace Edge.Audit.Records;

/// <summary>
/// The personal part of a record (principal, client IP). The edge sends it with protection <c>none</c> (schema v1);
/// the audit writer replaces it in the leaf it commits with <c>{"protection":"aes-256-gcm","nonce":...,"ciphertext":...}</c>
/// under a per-subject data key (schema v2), so destroying that key erases the fields while every proof stays valid.
/// </summary>
public sealed record AuditSubject
{
    public static readonly AuditSubject Empty = new();

    public string? Principal { get; init; }

    public string? ClientIp { get; init; }

    /// <summary>
    /// Further personal fields of a security event (a ban record's <c>banKey</c>), written after <see cref="ClientIp"/> in
    /// this order and sealed with the subject by the writer. Only with a <see cref="Principal"/> or <see cref="ClientIp"/>:
    /// a subject without either has no key to seal them under.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Details { get; init; }
}
