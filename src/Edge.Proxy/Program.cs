using Edge.Audit.Spool;
using Edge.Proxy;
using Edge.Proxy.Configuration;
using Microsoft.AspNetCore.Connections;

try
{
    var app = EdgeApplication.Create(args);
    await app.RunAsync();
    return 0;
}
catch (EdgeConfigException invalid)
{
    // Every error was already logged with its location; repeat them plainly for whoever started the process.
    Console.Error.WriteLine(invalid.Message);
    return 1;
}
catch (InvalidOperationException invalid) when (HostSettings.Names(invalid))
{
    // A host setting (Edge:TrustedProxies, an unset env: reference of Edge:Audit:IngestToken, …): the message names
    // the setting and what is wrong. Unhandled, the runtime printed a stack trace and aborted with SIGABRT (134).
    Console.Error.WriteLine("error: " + invalid.Message);
    return 1;
}
catch (IOException taken) when (taken is SpoolInUseException || taken.InnerException is AddressInUseException)
{
    // Another process holds this edge's spool directory or one of its ports: an operator's mistake with a one-line
    // cause (logged already), not a crash with a stack trace and an abort's exit code.
    Console.Error.WriteLine(taken.Message);
    return 1;
}
