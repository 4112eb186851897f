using System.CommandLine;
using Edge.Configuration;

namespace Edge.Cli.Config;

/// <summary><c>edge config validate [path] [--env-file file]</c>: the running edge's own load-time validation, offline.</summary>
internal static class ConfigValidateCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "proxy.json to check", DefaultValueFactory = _ => "proxy.json" };
        var envFile = new Option<FileInfo?>("--env-file")
        {
            Description = "A dotenv file (NAME=value lines) whose values resolve env: secret references for this check only; they override the environment and are never printed",
        };
        var command = new Command("validate", "Validate proxy.json with the same rules the edge applies on load and hot reload.") { path, envFile };
        command.SetAction(async (parse, cancellation) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var file = parse.GetValue(path)!;
            var variables = new Dictionary<string, string>(StringComparer.Ordinal);
            if (parse.GetValue(envFile) is { } env && !DotEnvFile.TryRead(env.FullName, out variables, out var envError))
            {
                error.WriteLine($"error: {envError}");
                return 2;
            }

            var problems = await ValidateWithVariablesAsync(file, variables).ConfigureAwait(false);
            foreach (var problem in problems)
            {
                (problem.IsWarning ? output : error).WriteLine(problem.ToString());
            }

            var errors = problems.Count(p => !p.IsWarning);
            if (parse.GetValue(envFile) is null && problems.Any(p => !p.IsWarning && p.Message.StartsWith("environment variable '", StringComparison.Ordinal)))
            {
                error.WriteLine("hint: export the variables named above, or pass them with --env-file <file> (for the demo: --env-file config/.env.example)");
            }

            output.WriteLine(errors == 0 ? $"{file}: valid" : $"{file}: {errors} error(s)");
            return errors == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>
    /// The validator resolves env: references from the process environment, so the file's values are set there for
    /// the duration of the check and the previous values restored afterwards (the CLI process is short-lived; tests
    /// run it in-process).
    /// </summary>
    private static async Task<IReadOnlyList<ConfigError>> ValidateWithVariablesAsync(string file, Dictionary<string, string> variables)
    {
        var previous = variables.Keys.ToDictionary(name => name, Environment.GetEnvironmentVariable, StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            return await ProxyConfigFileValidator.ValidateAsync(file).ConfigureAwait(false);
        }
        finally
        {
            foreach (var (name, value) in previous)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
