using Edge.Proxy.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>What a step factory receives when the validated config is applied.</summary>
internal sealed class EdgeStepBuildContext(RouteConfig route, EdgeSection edge, IServiceProvider services)
{
    public RouteConfig Route { get; } = route;

    public EdgeSection Edge { get; } = edge;

    public IServiceProvider Services { get; } = services;
}
