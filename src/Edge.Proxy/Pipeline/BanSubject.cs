namespace Edge.Proxy.Pipeline;

/// <summary>
/// Whose ban it is, for its audit records: the principal, client address and tenant of the request whose refusal started
/// it (the same three its decision record carries), or what a manual ban names. The writer seals a ban record's key under
/// this subject's data key, so erasing the principal (or, without one, the address) erases the key too.
/// </summary>
internal sealed record BanSubject(string? Principal, string? ClientIp, string? Tenant)
{
    /// <summary>True when it names no one: the writer has no subject key to seal a record's personal fields under.</summary>
    public bool IsEmpty => Principal is null && ClientIp is null;
}
