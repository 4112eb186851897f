namespace Edge.AuditWriter.Authorization;

/// <summary>Resolves <c>env:NAME</c> and <c>file:/path</c> secret references; inline secrets are refused.</summary>
internal static class SecretReference
{
    public static string Resolve(string reference)
    {
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            return Environment.GetEnvironmentVariable(name)
                ?? throw new InvalidOperationException($"The environment variable '{name}' named by a secret reference is not set.");
        }

        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            return File.ReadAllText(reference[5..]).TrimEnd('\r', '\n');
        }

        throw new InvalidOperationException("A secret must be a reference (env:NAME or file:/path), never an inline value.");
    }
}
