using System.Runtime.InteropServices;
using Edge.Load.Cli;

using var cancel = new CancellationTokenSource();
var stop = new StopRequests(cancel, TimeProvider.System);

// First Ctrl+C stops the load and still writes the reports; a second one, a second or more later, kills the process.
Console.CancelKeyPress += (_, e) => e.Cancel = stop.Stop();

// docker stop, timeout(1) and a CI runner cancelling a job send SIGTERM: the same as the first Ctrl+C (the runtime's
// default ended the process at once, without a report); a second SIGTERM, a second or more later, ends it.
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = stop.Stop());

return await CliApp.RunAsync(args, Console.Out, Console.Error, cancel.Token);
