using System.CommandLine;
using Edge.Proxy.Configuration;

namespace Edge.Cli.Config;

/// <summary><c>edge config validate [path]</c>: the running edge's own load-time validation, offline.</summary>
internal static class ConfigValidateCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "proxy.json to check", DefaultValueFactory = _ => "proxy.json" };
        var command = new Command("validate", "Validate proxy.json with the same rules the edge applies on load and hot reload.") { path };
        command.SetAction(async (parse, cancellation) =>
        {
            var file = parse.GetValue(path)!;
            var problems = await ProxyConfigFileValidator.ValidateAsync(file);
            foreach (var problem in problems)
            {
                (problem.IsWarning ? Console.Out : Console.Error).WriteLine(problem.ToString());
            }

            var errors = problems.Count(p => !p.IsWarning);
            Console.Out.WriteLine(errors == 0 ? $"{file}: valid" : $"{file}: {errors} error(s)");
            return errors == 0 ? 0 : 1;
        });
        return command;
    }
}
