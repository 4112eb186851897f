using Edge.AuditWriter.Hosting;
using Edge.Configuration;

return await HostSettings.RunAsync(() => WriterApp.Build(args).RunAsync(), WriterApp.HeldElsewhere);
