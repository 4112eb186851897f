namespace Edge.Proxy.Pipeline;

/// <summary>
/// Implemented by a body-reading step that can refuse some requests on their headers alone (a webhook delivery without
/// its signature header). <see cref="EdgeHeaderCheckTransform"/> asks it before the body is read, so such a request gets
/// its refusal without an interim 100 Continue and without the edge reading up to the route's body cap first.
/// </summary>
internal interface IEdgeHeaderCheck
{
    /// <summary>The step's own refusal, decided on the headers alone, or <see cref="EdgeStepResult.Continue"/>.</summary>
    EdgeStepResult CheckHeaders(EdgeStepContext context);
}
