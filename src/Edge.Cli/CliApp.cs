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

    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var configuration = new InvocationConfiguration { Output = output ?? Console.Out, Error = error ?? Console.Error };
        return BuildRoot().Parse(args).InvokeAsync(configuration, cancellationToken);
    }
}
