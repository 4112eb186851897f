namespace Edge.Cli.Config;

/// <summary>
/// Reads a dotenv file (<c>NAME=value</c> per line, <c>#</c> comments, optional <c>export </c> prefix, optional
/// single or double quotes around the value), the format of config/.env.example and ./run.sh.
/// Errors name the file and line, never the value: these files hold secrets.
/// </summary>
internal static class DotEnvFile
{
    public static bool TryRead(string path, out Dictionary<string, string> variables, out string? error)
    {
        variables = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // The reason in words, not the exception's type name ("FileNotFoundException" told a user less than this).
            error = ex switch
            {
                FileNotFoundException or DirectoryNotFoundException => $"the env file '{path}' cannot be read: it does not exist",
                UnauthorizedAccessException when Directory.Exists(path) => $"the env file '{path}' cannot be read: it is a directory",
                UnauthorizedAccessException => $"the env file '{path}' cannot be read: permission denied",
                _ => $"the env file '{path}' cannot be read: {ex.GetType().Name}",
            };
            return false;
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? line[..equals].Trim() : "";
            if (!IsName(name))
            {
                error = $"{path}:{i + 1}: expected NAME=value";
                return false;
            }

            var value = line[(equals + 1)..].Trim();
            if (value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0])
            {
                value = value[1..^1];
            }
            else if (value.Length > 0 && value[0] is '"' or '\'')
            {
                error = $"{path}:{i + 1}: the value of {name} has an unclosed quote";
                return false;
            }

            variables[name] = value;
        }

        error = null;
        return true;
    }

    private static bool IsName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
