namespace Edge.Proxy.Pipeline;

/// <summary>
/// What one step needs of the request body. The route's cap is the smallest <see cref="MaxBodyBytes"/> its steps
/// declare, or <see cref="DefaultMaxBodyBytes"/> when none declares one; the step declaring it is the deciding step of a
/// refused body.
/// </summary>
internal sealed record EdgeBodyRequirement(long? MaxBodyBytes = null)
{
    public const long DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>A step that only reads the body, under whatever cap the route has.</summary>
    public static EdgeBodyRequirement Any { get; } = new();

    /// <summary>
    /// Called when the body is refused before the step ran, with the precise reason, so the step's capability can record
    /// its own outcome (a webhook route audits the refusal as its signature result).
    /// </summary>
    public Action<HttpContext, string>? OnRefused { get; init; }
}
