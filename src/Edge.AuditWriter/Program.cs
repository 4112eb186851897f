using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.Configuration;

// Another writer on this SQLite store is an operator's mistake with a one-line cause, like a taken port.
return await HostSettings.RunAsync(() => WriterApp.Build(args).RunAsync(), taken => taken is AuditStoreInUseException);
