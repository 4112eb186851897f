using System.Text;

namespace Edge.Configuration;

/// <summary>
/// Resolves secret references. proxy.json only ever holds <c>env:NAME</c> or <c>file:/path</c>; an inline value is refused
/// so that secrets never land in version control, logs or status output.
/// </summary>
public static class SecretReference
{
    public static bool IsReference(string? value) =>
        value is not null && (value.StartsWith("env:", StringComparison.Ordinal) || value.StartsWith("file:", StringComparison.Ordinal));

    /// <summary>Resolves a reference to its UTF-8 text. The error never contains the secret.</summary>
    public static bool TryResolve(string? reference, out string value, out string error)
    {
        value = "";
        if (string.IsNullOrWhiteSpace(reference))
        {
            error = "secret reference is empty; use env:NAME or file:/path";
            return false;
        }

        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = reference[4..];
            var env = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(env))
            {
                error = $"environment variable '{name}' is not set or empty";
                return false;
            }

            value = env;
            error = "";
            return true;
        }

        if (reference.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = reference[5..];
            try
            {
                // Secret files conventionally end with a newline (Kubernetes, Docker secrets); it is not part of the secret.
                value = Encoding.UTF8.GetString(BoundedFile.ReadAllBytes(path, BoundedFile.MaxSecretBytes)).TrimStart('\uFEFF').TrimEnd('\r', '\n');
            }
            catch (FileTooLargeException)
            {
                error = $"secret file '{path}' is larger than {BoundedFile.Describe(BoundedFile.MaxSecretBytes)}: a secret file holds one key or token";
                return false;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                error = $"secret file '{path}' {BoundedFile.DescribeReadFailure(ex, path)}";
                return false;
            }

            if (value.Length == 0)
            {
                error = $"secret file '{path}' is empty";
                return false;
            }

            error = "";
            return true;
        }

        // Also for host settings (Writer:IngestToken, Edge:ManagementToken): not only proxy.json holds secret references.
        error = NotAReference(reference);
        return false;
    }

    /// <summary>Why a value that is no reference is refused; never repeats the value, which may be the secret itself.</summary>
    public static string NotAReference(string value)
    {
        // "ENV:NAME" was told "use env:NAME or file:/path" by a user who believed they had: the prefixes are case-sensitive.
        foreach (var prefix in (ReadOnlySpan<string>)["env:", "file:"])
        {
            if (value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return $"'{value[..prefix.Length]}' is not a secret reference: write the prefix in lower case, env:NAME or file:/path (anything else is taken as an inline secret, which is not allowed)";
            }
        }

        return "inline secrets are not allowed; use env:NAME or file:/path";
    }
}
