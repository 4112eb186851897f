using System.CommandLine;
using Edge.Cli.Config;

var root = new RootCommand("edge: operate an Edge deployment")
{
    new Command("config", "proxy.json tools") { ConfigValidateCommand.Create() },
};

return await root.Parse(args).InvokeAsync();
