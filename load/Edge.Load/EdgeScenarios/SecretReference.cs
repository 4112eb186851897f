namespace Edge.Load.EdgeScenarios;

/// <summary>Resolves <c>env:NAME</c> or <c>file:/path</c>, the same secret references proxy.json uses; secrets are never passed inline.</summary>
internal static class SecretReference
{
    public static string Resolve(string reference, string purpose)
    {
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            var value = Environment.GetEnvironmentVariable(name);
            return string.IsNullOrEmpty(value)
                ? throw new InvalidOperationException($"{purpose}: environment variable {name} is not set.")
                : value;
        }

        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = reference[5..];
            return File.Exists(path)
                ? File.ReadAllText(path).TrimEnd('\r', '\n')
                : throw new InvalidOperationException($"{purpose}: secret file {path} does not exist.");
        }

        throw new InvalidOperationException($"{purpose}: '{reference}' is not a secret reference; use env:NAME or file:/path.");
    }
}
