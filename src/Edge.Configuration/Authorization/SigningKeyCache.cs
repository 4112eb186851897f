using System.Collections.Concurrent;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Edge.Configuration.Authorization;

/// <summary>
/// One <see cref="SigningKeySource"/> per key source and refresh settings, kept across config reloads (steps are
/// rebuilt on every Edge change; fetched keys must not be). The source caches the keys, refreshes them on
/// <c>KeyRefreshInterval</c>, re-fetches on an unknown <c>kid</c> at most every <c>KeyRefreshMinimumInterval</c>, and
/// keeps serving the last good keys when a refresh fails.
/// </summary>
public sealed class SigningKeyCache : IDisposable
{
    private static readonly Lazy<SigningKeyCache> SharedInstance = new(() => new SigningKeyCache());

    private readonly ConcurrentDictionary<string, SigningKeySource> _sources = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private readonly Action<string, Exception>? _fetchFailed;

    public SigningKeyCache()
        : this(fetchFailed: null)
    {
    }

    /// <param name="fetchFailed">Told the address and the error of every failed key fetch (the edge and the audit writer log it).</param>
    public SigningKeyCache(Action<string, Exception>? fetchFailed)
    {
        _fetchFailed = fetchFailed;
        _http = new HttpClient(new Edge.Shared.OutgoingCallTagHandler("jwks", new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }))
        {
            Timeout = TimeSpan.FromSeconds(10),
            MaxResponseContentBufferSize = 1024 * 1024,
        };
    }

    /// <summary>A process-wide cache for validators created outside the edge's service provider.</summary>
    public static SigningKeyCache Shared => SharedInstance.Value;

    internal SigningKeySource Get(AuthenticationPolicyOptions policy)
    {
        var discovery = policy.Authority is not null;
        var address = discovery
            ? policy.Authority!.TrimEnd('/') + "/.well-known/openid-configuration"
            : policy.JwksUrl!;
        var key = string.Join('|', discovery ? "oidc" : "jwks", address, policy.RequireHttpsMetadata, policy.KeyRefreshInterval.Ticks, policy.KeyRefreshMinimumInterval.Ticks);
        return _sources.GetOrAdd(key, _ =>
        {
            IConfigurationRetriever<OpenIdConnectConfiguration> retriever = discovery ? new OpenIdConnectConfigurationRetriever() : JwksRetriever.Instance;
            return new SigningKeySource(
                address,
                retriever,
                new HttpDocumentRetriever(_http) { RequireHttps = policy.RequireHttpsMetadata },
                policy.KeyRefreshInterval,
                policy.KeyRefreshMinimumInterval,
                TimeProvider.System,
                _fetchFailed);
        });
    }

    public void Dispose() => _http.Dispose();
}
