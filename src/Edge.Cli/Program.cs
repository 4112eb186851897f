using Edge.Cli;

return await CliApp.RunAsync(args).ConfigureAwait(false);
