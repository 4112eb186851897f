using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Cluster settings YARP's validator passes but that fail every request of the cluster once applied: the edge answered
/// 500, 502 or 504 for each one instead of refusing the edit and keeping the last good config.
/// </summary>
internal static class ClusterSettingsRules
{
    public static void Validate(ClusterConfig cluster, string location, ConfigErrorList errors)
    {
        if (cluster.HttpRequest?.ActivityTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            // Negative: ArgumentOutOfRangeException (500) on every request; zero: every request timed out (504).
            errors.Add(location + ":HttpRequest:ActivityTimeout", $"'{timeout}' is not positive; leave it out for YARP's default (100 s), or give e.g. 00:02:00");
        }

        if (cluster.SessionAffinity is { Enabled: true, AffinityKeyName: { Length: > 0 } keyName }
            && !HttpToken.IsToken(keyName))
        {
            errors.Add(location + ":SessionAffinity:AffinityKeyName",
                "not a cookie or header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or separators); every request on the cluster failed with 502");
        }

        // YARP builds the probe URI from PathString and QueryString, which throw without the leading character: every
        // probe failed, was logged as an error each interval, and marked the destinations unhealthy.
        if (cluster.HealthCheck?.Active is { Enabled: true } active)
        {
            if (active.Path is { Length: > 0 } path && path[0] != '/')
            {
                errors.Add(location + ":HealthCheck:Active:Path", $"'{path}' must start with '/', e.g. /healthz");
            }

            if (active.Query is { Length: > 0 } query && query[0] != '?')
            {
                errors.Add(location + ":HealthCheck:Active:Query", $"'{query}' must start with '?', e.g. ?probe=edge");
            }
        }

        if (cluster.HttpClient?.WebProxy?.Address is { } proxy
            && (!proxy.IsAbsoluteUri || proxy.Scheme is not ("http" or "https" or "socks4" or "socks4a" or "socks5") || proxy.Host.Length == 0))
        {
            // Relative: InvalidOperationException on every request (502). The value is not repeated: it may carry credentials.
            errors.Add(location + ":HttpClient:WebProxy:Address", "not an absolute proxy URL (http, https, socks4, socks4a or socks5, with a host), e.g. http://proxy.internal:3128/");
        }

        foreach (var (name, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
        {
            if (destination.Host is { Length: > 0 } host && !IsHostHeader(host))
            {
                errors.Add($"{location}:Destinations:{name}:Host",
                    "not a Host header value (a host name or IP address, optionally with :port from 1 to 65535); every request to this destination failed with 502");
            }
        }
    }

    /// <summary>The check HttpClient applies when the forwarder sets the destination's Host (it throws FormatException).</summary>
    private static bool IsHostHeader(string host)
    {
        using var message = new HttpRequestMessage();
        try
        {
            message.Headers.Host = host;
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
