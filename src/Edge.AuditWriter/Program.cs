using Edge.AuditWriter.Hosting;
using Edge.Configuration;

try
{
    await WriterApp.Build(args).RunAsync().ConfigureAwait(false);
    return 0;
}
catch (EdgeConfigException invalid)
{
    Console.Error.WriteLine(invalid.Message);
    return 1;
}
catch (InvalidOperationException invalid) when (HostSettings.Names(invalid))
{
    // A host setting (Writer:IngestToken's env: reference unset, Writer:Retention, …): the message names it. Unhandled,
    // the runtime printed a stack trace and aborted with SIGABRT (134).
    Console.Error.WriteLine("error: " + invalid.Message);
    return 1;
}
