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

return await CliApp.RunAsync(args, Console.Out, Console.Error, cancel.Token);
