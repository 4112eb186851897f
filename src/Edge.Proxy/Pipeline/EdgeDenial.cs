namespace Edge.Proxy.Pipeline;

/// <summary>
/// A step's refusal. <see cref="Code"/> is stable and documented (clients and alerts key on it); <see cref="Detail"/> is
/// safe for the client and never contains internals or secrets. <see cref="Reason"/> is the precise reason for the audit
/// record and metrics only, and defaults to <see cref="Code"/>.
/// </summary>
internal sealed record EdgeDenial(int Status, string Code, string Title, string? Detail = null)
{
    public string? Reason { get; init; }

    /// <summary>Extra response headers, such as <c>WWW-Authenticate</c> or <c>Retry-After</c>.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>
    /// The individual problems, written as the <c>errors</c> member (a schema violation per body location, a broken rule
    /// per query parameter). Each detail names the rule, never the offending value.
    /// </summary>
    public IReadOnlyList<EdgeProblemError>? Errors { get; init; }
    /// <summary>Extra problem+json members (RFC 9457 extensions) such as <c>approvalId</c>; string values, written in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Extensions { get; init; }

    /// <summary>Writes a body other than problem+json (the Meta subscribe handshake answers with the challenge).</summary>
    public Func<HttpContext, Task>? WriteBody { get; init; }
}

/// <summary>One entry of a problem's <c>errors</c> array: where (a JSON <see cref="Pointer"/> into the body, or a query <see cref="Parameter"/>) and what.</summary>
internal sealed record EdgeProblemError(string Detail)
{
    public string? Pointer { get; init; }

    public string? Parameter { get; init; }
}
