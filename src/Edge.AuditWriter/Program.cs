using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Microsoft.AspNetCore.Connections;

try
{
    await WriterApp.Build(args).RunAsync().ConfigureAwait(false);
    return 0;
}
catch (IOException taken) when (taken is AuditStoreInUseException || taken.InnerException is AddressInUseException)
{
    // Another writer holds this store, or another process the port: an operator's mistake with a one-line cause, not
    // a crash with a stack trace and an abort's exit code.
    Console.Error.WriteLine(taken.Message);
    return 1;
}
