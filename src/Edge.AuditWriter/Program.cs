using Edge.AuditWriter.Hosting;

await WriterApp.Build(args).RunAsync().ConfigureAwait(false);
return 0;
