namespace Edge.Configuration;

/// <summary>
/// Host settings that are not part of proxy.json: where proxy.json lives, the management listener and Redis.
/// Bound from the <c>Edge</c> configuration section (appsettings.json, <c>Edge__…</c> environment variables or <c>--Edge:…</c>).
/// </summary>
public sealed record EdgeHostOptions
{
    public const string SectionName = "Edge";

    /// <summary>Path of proxy.json; relative paths resolve against the working directory.</summary>
    public string ProxyConfigPath { get; init; } = "proxy.json";

    /// <summary>Listener(s) for /metrics, /healthz, /readyz and /edge/status, separated by ';'. Never the proxy port.</summary>
    public string ManagementUrls { get; init; } = "http://127.0.0.1:9901";

    /// <summary>
    /// Host names the management listener answers besides IP literals and <c>localhost</c>, separated by ';'
    /// (<c>edge-admin.internal;*.ops.example</c>, <c>*</c>: any). Another Host is refused (DNS rebinding).
    /// </summary>
    public string? ManagementHosts { get; init; }

    /// <summary>
    /// Secret reference (<c>env:NAME</c> or <c>file:/path</c>) of the bearer token /edge/status and /edge/bans require.
    /// Absent: no token (probes, scrapers and the bans API alike need only reach the port).
    /// </summary>
    public string? ManagementToken { get; init; }

    /// <summary>StackExchange.Redis configuration string. Absent means single-node, in-process state.</summary>
    public string? Redis { get; init; }

    /// <summary>How often proxy.json is checked for changes, in addition to file system notifications.</summary>
    public TimeSpan ConfigPollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Prefix of identity headers the edge owns; client-sent copies are removed before forwarding.</summary>
    public string IdentityHeaderPrefix { get; init; } = "X-Edge-";

    /// <summary>
    /// Proxies in front of the edge whose forwarding headers are believed: CIDR ranges or addresses separated by ',' or ';'.
    /// Empty (the default) means the connection's remote address is the client and client-sent forwarding headers are dropped.
    /// </summary>
    public string? TrustedProxies { get; init; }

    /// <summary>Name of this edge instance in audit records and logs. Defaults to the machine name.</summary>
    public string InstanceId { get; init; } = Environment.MachineName;
}
