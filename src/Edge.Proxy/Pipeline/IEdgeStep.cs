namespace Edge.Proxy.Pipeline;

/// <summary>
/// One ordered edge step on a route, built once per route and config revision. A step either lets the request
/// continue or denies it; a denial ends the request before the backend is called.
/// </summary>
internal interface IEdgeStep
{
    ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context);
}
