namespace Edge.Proxy.Pipeline;

/// <summary>The outcome of one step: continue, or deny with a problem+json answer.</summary>
internal readonly record struct EdgeStepResult(EdgeDenial? Denial)
{
    public static EdgeStepResult Continue => default;

    public bool IsDenied => Denial is not null;

    public static EdgeStepResult Deny(EdgeDenial denial) => new(denial);

    public static EdgeStepResult Deny(int status, string code, string title, string? detail = null) =>
        new(new EdgeDenial(status, code, title, detail));
}
