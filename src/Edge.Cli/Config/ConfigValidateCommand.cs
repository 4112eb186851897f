using System.CommandLine;
using Edge.Configuration;

namespace Edge.Cli.Config;

/// <summary><c>edge config validate [path] [--env-file file] [--identity-header-prefix prefix]</c>: the running edge's own load-time validation, offline.</summary>
internal static class ConfigValidateCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "proxy.json to check", DefaultValueFactory = _ => "proxy.json" };
        var envFile = new Option<FileInfo?>("--env-file")
        {
            Description = "A dotenv file (NAME=value lines) whose values resolve env: secret references for this check only; they override the environment and are never printed",
        };
        var identityPrefix = new Option<string?>("--identity-header-prefix")
        {
            Description = "The edge's Edge:IdentityHeaderPrefix, when it is not X-Edge- (default: the environment variable Edge__IdentityHeaderPrefix, as the edge reads it, else X-Edge-)",
        };
        var command = new Command("validate", "Validate proxy.json with the same rules the edge applies on load and hot reload.") { path, envFile, identityPrefix };
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

            // The edge's rules read this host setting; checked with another prefix, a valid file was refused (or the reverse).
            var prefix = parse.GetValue(identityPrefix) ?? Environment.GetEnvironmentVariable("Edge__IdentityHeaderPrefix");
            if (prefix is not null && string.IsNullOrWhiteSpace(prefix))
            {
                error.WriteLine("error: the identity header prefix is empty; the edge refuses to start with an empty Edge:IdentityHeaderPrefix");
                return 2;
            }

            var problems = await ValidateWithVariablesAsync(file, variables, prefix).ConfigureAwait(false);
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
    private static async Task<IReadOnlyList<ConfigError>> ValidateWithVariablesAsync(string file, Dictionary<string, string> variables, string? identityHeaderPrefix)
    {
        var previous = variables.Keys.ToDictionary(name => name, Environment.GetEnvironmentVariable, StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            return await ProxyConfigFileValidator.ValidateAsync(file, identityHeaderPrefix).ConfigureAwait(false);
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
