using StackExchange.Redis;

namespace Edge.Proxy.Redis;

/// <summary>
/// <c>Edge:Redis</c>: a StackExchange.Redis configuration string, given inline when it holds no password, or as a secret
/// reference (<c>env:NAME</c> or <c>file:/path</c>) to the whole string, as <c>Writer:Postgres</c> is. An inline
/// <c>password=</c> put the Redis password in appsettings.json, a unit file or the command line (<c>ps</c> shows it).
/// </summary>
internal static class RedisConnectionSetting
{
    /// <summary>
    /// The configuration string to connect with, or null when Redis is not configured. Throws a one-line
    /// <see cref="InvalidOperationException"/> naming the setting; the message never repeats the string or a password.
    /// </summary>
    public static string? Resolve(string? configured)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return null;
        }

        var inline = !SecretReference.IsReference(configured);
        string connection;
        if (!inline)
        {
            if (!SecretReference.TryResolve(configured, out connection, out var error))
            {
                throw new InvalidOperationException($"Edge:Redis: {error}");
            }
        }
        else if (configured.StartsWith("env:", StringComparison.OrdinalIgnoreCase) || configured.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Edge:Redis: {SecretReference.NotAReference(configured)}");
        }
        else
        {
            connection = configured;
        }

        // StackExchange.Redis reads no redis:// URI: its user and password were not used, and the whole text stood as a
        // host name in every connection error and log line.
        if (connection.Split(',').Any(static part => !part.Contains('=', StringComparison.Ordinal) && (part.Contains('@', StringComparison.Ordinal) || part.Contains("://", StringComparison.Ordinal))))
        {
            throw new InvalidOperationException(
                "Edge:Redis names an endpoint as a URI or with user info ('redis://user:password@…'), which StackExchange.Redis does not read; "
                + "write host:port, and user=…,password=… in a string given as env:NAME or file:/path");
        }

        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(connection);
        }
        catch (ArgumentException invalid)
        {
            // The message names the keyword, never the string, which may hold a password.
            throw new InvalidOperationException($"Edge:Redis is not a StackExchange.Redis configuration string: {invalid.Message}");
        }

        if (inline && !string.IsNullOrEmpty(options.Password))
        {
            throw new InvalidOperationException(
                "Edge:Redis holds a password inline (password=…); give the whole configuration string as a secret reference, env:NAME or file:/path "
                + "(e.g. Edge:Redis=env:EDGE_REDIS with EDGE_REDIS=redis-0:6379,password=…)");
        }

        if (options.EndPoints.Count == 0)
        {
            throw new InvalidOperationException("Edge:Redis names no endpoint; set host:port (e.g. 10.0.0.5:6379), several separated by commas for a cluster.");
        }

        return connection;
    }
}
