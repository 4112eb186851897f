using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.Configuration;
using Microsoft.AspNetCore.Connections;

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
catch (IOException taken) when (taken is AuditStoreInUseException || taken.InnerException is AddressInUseException)
{
    // Another writer holds this store, or another process the port: an operator's mistake with a one-line cause, not
    // a crash with a stack trace and an abort's exit code.
    Console.Error.WriteLine(taken.Message);
    return 1;
}
