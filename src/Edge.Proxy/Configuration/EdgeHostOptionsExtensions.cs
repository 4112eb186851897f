using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Configuration;

internal static class EdgeHostOptionsExtensions
{
    public static EdgeHostOptions AddEdgeHostOptions(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(EdgeHostOptions.SectionName).Get<EdgeHostOptions>() ?? new EdgeHostOptions();
        // Relative to the working directory, like --urls and every other path an operator passes on the command line.
        // An empty instance name (a template's variable rendered empty) counts as unset, as it does for the metrics'
        // service instance: records said "instance":"" and no record told which edge decided it.
        options = options with
        {
            ProxyConfigPath = Path.GetFullPath(options.ProxyConfigPath),
            InstanceId = string.IsNullOrWhiteSpace(options.InstanceId) ? Environment.MachineName : options.InstanceId,
        };

        RefuseUnknownSettings(builder.Configuration.GetSection(EdgeHostOptions.SectionName));
        var managementUrls = ManagementUrls.Parse(options.ManagementUrls);
        // Fail at startup, not on the first request, when a trusted-proxy entry is malformed.
        _ = Pipeline.ClientAddressResolver.ParseTrustedProxies(options.TrustedProxies);
        var proxyUrls = (builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? "http://127.0.0.1:8080")
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        HostSettings.RefuseUnusableUrls(proxyUrls);
        RefuseManagementPortsKestrelIgnores(builder.Configuration.GetSection("Kestrel:Endpoints"), managementUrls);
        Validate(options, managementUrls, proxyUrls);
        KestrelCertificates.RefuseUnusable(builder.Configuration, proxyUrls, builder.Environment.ContentRootPath, TimeProvider.System.GetUtcNow());
        builder.WebHost.UseUrls([.. proxyUrls, .. managementUrls.Urls]);

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(managementUrls);
        builder.Services.TryAddSingleton(TimeProvider.System);
        return options;
    }

    /// <summary>
    /// With <c>Kestrel:Endpoints</c> set (the usual way to give Kestrel a certificate), Kestrel listens on those endpoints
    /// only and ignores every URL the edge passes it: the management listener silently did not exist, so /readyz,
    /// /metrics and the bans API refused connections and probes never saw the edge ready. Each management port must then
    /// be one of those endpoints too; the edge tells the listeners apart by local port, as always.
    /// </summary>
    private static void RefuseManagementPortsKestrelIgnores(IConfigurationSection endpoints, ManagementUrls managementUrls)
    {
        var configured = endpoints.GetChildren().ToList();
        if (configured.Count == 0)
        {
            return;
        }

        var ports = new HashSet<int>();
        foreach (var endpoint in configured)
        {
            try
            {
                if (endpoint["Url"] is { Length: > 0 } url)
                {
                    ports.Add(BindingAddress.Parse(url).Port);
                }
            }
            catch (FormatException)
            {
                // Kestrel reports its own endpoint's bad Url when it binds.
            }
        }

        foreach (var port in managementUrls.Ports.Where(p => !ports.Contains(p)).Order())
        {
            throw new InvalidOperationException(
                $"Edge:ManagementUrls port {port} would not listen: Kestrel:Endpoints is set, and Kestrel then listens on those endpoints only, ignoring --urls and Edge:ManagementUrls. "
                + $"Add the management listener as an endpoint too (e.g. Kestrel:Endpoints:Management:Url=http://127.0.0.1:{port}).");
        }
    }

    private static readonly Dictionary<string, string[]> KnownSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = [.. typeof(EdgeHostOptions).GetProperties().Select(static p => p.Name), "Audit", "Observability"],
        ["Audit"] = [.. typeof(Auditing.EdgeAuditOptions).GetProperties().Select(static p => p.Name)],
        ["Observability"] = ["Activities", "AllFrameworkMetrics"],
    };

    /// <summary>
    /// A misspelt host setting was ignored like any unused configuration key: Edge__Reids=redis:6379 started a
    /// single-node edge with in-process limits while the team believed them shared. proxy.json refuses unknown
    /// properties for the same reason; the host settings now do too.
    /// </summary>
    private static void RefuseUnknownSettings(IConfigurationSection edge)
    {
        foreach (var (parent, section) in new[] { ("", edge), ("Audit", edge.GetSection("Audit")), ("Observability", edge.GetSection("Observability")) })
        {
            var known = KnownSettings[parent];
            foreach (var child in section.GetChildren())
            {
                if (known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                var path = child.Path;
                if (parent.Length == 0 && EdgeSectionNames.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"{path} belongs in proxy.json's Edge object, not in the host settings (appsettings.json, Edge__ variables, --Edge:…), where it is not read.");
                }

                if (parent.Length == 0 && string.Equals(child.Key, "AuthFailures", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"{path} is no longer read; ban rules in proxy.json's Edge:ThreatProtection replace it (docs/threat-protection.md).");
                }

                throw new InvalidOperationException(HostSettings.UnknownSetting(section, child.Key, known));
            }
        }
    }

    // proxy.json's Edge sections, sometimes written into appsettings.json by someone used to one configuration tree.
    private static readonly string[] EdgeSectionNames = ["Tenancy", "RateLimits", "Webhooks", "Authentication", "Roles", "Validation", "Approvals", "ThreatProtection"];

    /// <summary>
    /// The host settings whose mistakes would otherwise surface later as a defect's stack trace (a negative poll
    /// interval in the timer, an endpoint-less Redis string in the connect, a Redis password written inline) or as a misleading message (Kestrel's
    /// "address already in use" for a management port that is also a proxy port, which no other process holds).
    /// </summary>
    private static void Validate(EdgeHostOptions options, ManagementUrls managementUrls, IEnumerable<string> proxyUrls)
    {
        if (options.ConfigPollInterval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Edge:ConfigPollInterval must be positive (e.g. 00:00:00.500), not {options.ConfigPollInterval}.");
        }

        // An empty prefix would make every client header an identity header, removed before any step runs.
        if (string.IsNullOrWhiteSpace(options.IdentityHeaderPrefix))
        {
            throw new InvalidOperationException("Edge:IdentityHeaderPrefix is empty; it names the headers the edge owns (default X-Edge-), and every client header would be removed.");
        }

        // It names this instance in every audit record (source edge://<id>) and log line: a space or control character
        // inside it broke the source URI (empty or blank is the machine name, above).
        if (options.InstanceId.Any(static c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new InvalidOperationException("Edge:InstanceId must be a name without spaces or control characters (default: the machine name); it names this instance in audit records and logs.");
        }

        _ = Redis.RedisConnectionSetting.Resolve(options.Redis);

        // The management endpoints are told apart by the local port alone, so no proxy listener may share one.
        foreach (var url in proxyUrls)
        {
            var normalized = url.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
            if (Uri.TryCreate(normalized, UriKind.Absolute, out var uri) && uri.Port > 0 && managementUrls.Ports.Contains(uri.Port))
            {
                throw new InvalidOperationException($"Edge:ManagementUrls uses port {uri.Port}, which the proxy listener '{url}' (--urls) uses too; give the management listener a port of its own.");
            }
        }
    }
}
