using System.Runtime.InteropServices;
using Edge.Load.Cli;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl+C stops the load and still writes the reports; a second one kills the process.
    if (!cancel.IsCancellationRequested)
    {
        e.Cancel = true;
        cancel.Cancel();
    }
};

// docker stop, timeout(1) and a CI runner cancelling a job send SIGTERM: the same as the first Ctrl+C (the runtime's
// default ended the process at once, without a report); a second SIGTERM ends it.
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    if (!cancel.IsCancellationRequested)
    {
        context.Cancel = true;
        cancel.Cancel();
    }
});

return await CliApp.RunAsync(args, Console.Out, Console.Error, cancel.Token);
