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
    /// A step that reads only a form-encoded body (<c>application/x-www-form-urlencoded</c>, the one a backend parses into
    /// parameters without being asked); other bodies on its route are streamed to the backend unread.
    /// </summary>
    public static EdgeBodyRequirement FormOnly { get; } = new() { OnlyForm = true };

    /// <summary>True when the step reads the body only when it is form-encoded (<see cref="FormOnly"/>).</summary>
    public bool OnlyForm { get; init; }

    /// <summary>
    /// Called when the body is refused before the step ran, with the precise reason, so the step's capability can record
    /// its own outcome (a webhook route audits the refusal as its signature result).
    /// </summary>
    public Action<HttpContext, string>? OnRefused { get; init; }
}
