using Edge.Configuration;
using Edge.Proxy;
using Edge.Proxy.Observability;

return await HostSettings.RunAsync(() => EdgeApplication.Create(args).RunAsync(), ObservabilityExtensions.HeldElsewhere);
