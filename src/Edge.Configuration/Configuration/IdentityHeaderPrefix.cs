namespace Edge.Configuration;

/// <summary>
/// Which header names fall under <c>Edge:IdentityHeaderPrefix</c> as the edge strips them from client requests:
/// case-insensitively and with '_' counting as '-', since CGI-style backends (PHP, WSGI, Rack) read X_Edge_Tenant as
/// X-Edge-Tenant.
/// </summary>
internal static class IdentityHeaderPrefix
{
    public static bool Covers(string prefix, string name) =>
        name.Length >= prefix.Length && name[..prefix.Length].Replace('_', '-').Equals(prefix.Replace('_', '-'), StringComparison.OrdinalIgnoreCase);
}
