using Edge.Audit.Spool;
using Edge.Configuration;
using Edge.Proxy;

// Another edge on this spool directory is an operator's mistake with a one-line cause, like a taken port.
return await HostSettings.RunAsync(() => EdgeApplication.Create(args).RunAsync(), taken => taken is SpoolInUseException);
