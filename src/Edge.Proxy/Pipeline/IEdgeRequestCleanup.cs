namespace Edge.Proxy.Pipeline;

/// <summary>
/// Work a step leaves for the end of its request, e.g. releasing a webhook replay reservation when the delivery was not
/// accepted. Registered with <see cref="EdgeRequestFeature.RegisterCleanup"/>; runs after the forwarder, whatever happened.
/// </summary>
internal interface IEdgeRequestCleanup
{
    ValueTask CleanupAsync(HttpContext context);
}
