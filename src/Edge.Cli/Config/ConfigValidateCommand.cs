using System.CommandLine;
using Edge.Configuration;
using Edge.Configuration.Authorization;

namespace Edge.Cli.Config;

/// <summary><c>edge config validate [path] [--env-file file] [--identity-header-prefix prefix] [--writer entry]</c>: the running edge's own load-time validation, offline.</summary>
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
        var writer = new Option<string?>("--writer")
        {
            Description = "Check the file as the audit writer reads it (Writer:ProxyConfigPath) for this Writer:Authentication entry: only Edge:Authentication and Edge:Roles, no routes needed",
            HelpName = "entry",
        };
        var command = new Command("validate", "Validate proxy.json with the same rules the edge applies on load and hot reload.") { path, envFile, identityPrefix, writer };
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

            var writerEntry = parse.GetValue(writer);
            if (writerEntry is not null && string.IsNullOrWhiteSpace(writerEntry))
            {
                error.WriteLine("error: --writer names no entry; give the Writer:Authentication value the audit writer starts with (e.g. --writer auditors)");
                return 2;
            }

            IReadOnlyList<string> writerEntries = [];
            var problems = await ValidateWithVariablesAsync(variables, writerEntry is null
                ? async () =>
                {
                    var found = await ProxyConfigFileValidator.ValidateAsync(file, prefix).ConfigureAwait(false);
                    // Read while the env file's values are set: the entries' own secret references must resolve.
                    writerEntries = found.Any(static p => !p.IsWarning && p.Location == "ReverseProxy:Routes") ? WriterEntries(file) : [];
                    return found;
                }
                : () => Task.FromResult(EdgeAuthenticationConfiguration.Check(file, writerEntry))).ConfigureAwait(false);
            foreach (var problem in problems)
            {
                (problem.IsWarning ? output : error).WriteLine(problem.ToString());
            }

            var errors = problems.Count(p => !p.IsWarning);
            if (parse.GetValue(envFile) is null && problems.Any(p => !p.IsWarning && p.Message.StartsWith("environment variable '", StringComparison.Ordinal)))
            {
                error.WriteLine("hint: export the variables named above, or pass them with --env-file <file> (for the demo: --env-file config/.env.example)");
            }

            // The route-less file of Writer:ProxyConfigPath is refused as an edge's config; say how to check it for the writer.
            if (writerEntries is [var first, ..])
            {
                error.WriteLine($"hint: a file only for the audit writer (Writer:ProxyConfigPath): check it with --writer <Writer:Authentication entry>, e.g. --writer {first}");
            }

            output.WriteLine(errors > 0 ? $"{file}: {errors} error(s)"
                : writerEntry is null ? $"{file}: valid"
                : $"{file}: valid for the audit writer (Writer:Authentication={writerEntry}); it reads only that Edge:Authentication entry and Edge:Roles, so routes were not checked");
            return errors == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>The Edge:Authentication entries of a file the edge refused, or none when even those cannot be read.</summary>
    private static IReadOnlyList<string> WriterEntries(string file)
    {
        try
        {
            return EdgeAuthenticationConfiguration.Load(file).Authentication.Keys.Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception ex) when (ex is EdgeConfigException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// The validator resolves env: references from the process environment, so the file's values are set there for
    /// the duration of the check and the previous values restored afterwards (the CLI process is short-lived; tests
    /// run it in-process).
    /// </summary>
    private static async Task<IReadOnlyList<ConfigError>> ValidateWithVariablesAsync(Dictionary<string, string> variables, Func<Task<IReadOnlyList<ConfigError>>> validate)
    {
        var previous = variables.Keys.ToDictionary(name => name, Environment.GetEnvironmentVariable, StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in variables)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            return await validate().ConfigureAwait(false);
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
