using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>
/// Tells <see cref="EdgeConfigState"/> when YARP has swapped its routes to a config, or refused it. YARP applies a
/// signalled config on its own schedule (it validates and rebuilds every changed route first), so the provider's
/// signal alone does not mean the new routes serve.
/// </summary>
internal sealed class EdgeConfigChangeListener(EdgeConfigState state) : IConfigChangeListener
{
    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs) => state.YarpApplied(proxyConfigs);

    public void ConfigurationApplyingFailed(IReadOnlyList<IProxyConfig> proxyConfigs, Exception exception) => state.YarpFailed(proxyConfigs, exception);

    public void ConfigurationLoaded(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
    }

    public void ConfigurationLoadingFailed(IProxyConfigProvider configProvider, Exception exception)
    {
    }
}
