using System.CommandLine;
using Edge.Cli.Audit;
using Edge.Cli.Config;
using Edge.Cli.Keys;

namespace Edge.Cli;

/// <summary>The <c>edge</c> command tree; Program and tests share it.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("edge: operate an Edge deployment");
        root.Add(new Command("config", "proxy.json tools") { ConfigValidateCommand.Create() });
        root.Add(AuditCommands.Build());
        root.Add(KeyCommands.Build());
        return root;
    }

    /// <summary>Exit code of a command line that does not parse (unknown option, missing required option), as in sysexits-style tools.</summary>
    public const int UsageError = 2;

    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var configuration = new InvocationConfiguration { Output = output ?? Console.Out, Error = error ?? Console.Error };
        var parse = BuildRoot().Parse(args);
        var exitCode = await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        return parse.Errors.Count > 0 ? UsageError : exitCode;
    }
}
