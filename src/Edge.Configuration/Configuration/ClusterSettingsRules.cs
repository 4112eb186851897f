using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Cluster settings YARP's validator passes but that fail every request of the cluster once applied: the edge answered
/// 500, 502 or 504 for each one instead of refusing the edit and keeping the last good config.
/// </summary>
internal static class ClusterSettingsRules
{
    /// <returns>False when YARP's own cluster validation must not run: it throws on what was reported here.</returns>
    public static bool Validate(ClusterConfig cluster, string location, ConfigErrorList errors)
    {
        // YARP's validator calls Encoding.GetEncoding and only catches ArgumentException: "utf-7" (NotSupportedException)
        // escaped, and the edit was refused as "a bug in the edge" without a location.
        var yarpCanValidate = true;
        foreach (var (field, name) in new[] { ("RequestHeaderEncoding", cluster.HttpClient?.RequestHeaderEncoding), ("ResponseHeaderEncoding", cluster.HttpClient?.ResponseHeaderEncoding) })
        {
            if (name is null)
            {
                continue;
            }

            try
            {
                _ = System.Text.Encoding.GetEncoding(name);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                errors.Add($"{location}:HttpClient:{field}", $"'{name}' is not an encoding the edge can use; give e.g. utf-8 or latin1");
                yarpCanValidate = false;
            }
        }

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

        // YARP writes these into the affinity cookie's Set-Cookie as they are: Kestrel refused a control character or a
        // byte outside ASCII after the backend had served the request (502 for every request of the cluster), and a ';'
        // ended the attribute, so the rest was written as attributes of its own.
        if (cluster.SessionAffinity is { Enabled: true, Cookie: { } cookie })
        {
            if (cookie.Domain is { Length: > 0 } domain && !IsCookieDomain(domain))
            {
                errors.Add(location + ":SessionAffinity:Cookie:Domain",
                    "not a cookie domain (a host name of ASCII letters, digits, '-' and '.', e.g. shop.example; an international name in its xn-- form)");
            }

            if (cookie.Path is { Length: > 0 } cookiePath && !IsCookiePath(cookiePath))
            {
                errors.Add(location + ":SessionAffinity:Cookie:Path",
                    "not a cookie path (starts with '/', printable ASCII without ';'), e.g. /shop");
            }
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

        return yarpCanValidate;
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

    private static bool IsCookieDomain(string domain) =>
        domain.TrimStart('.') is { Length: > 0 } name && name.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');

    // RFC 6265 path-value: any CHAR but controls and ';'. Without the leading '/' a browser uses the response's own
    // directory instead, and the affinity held only below it.
    private static bool IsCookiePath(string path) => path[0] == '/' && path.All(static c => c is >= ' ' and <= '~' and not ';');
}
