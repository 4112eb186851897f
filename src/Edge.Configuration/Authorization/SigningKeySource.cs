using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Edge.Configuration.Authorization;

/// <summary>
/// The signing keys of one JWKS or discovery address. The first use waits for the fetch; afterwards the keys are
/// refreshed every <c>KeyRefreshInterval</c> in the background while the current ones keep serving (also when a
/// fetch fails). An unknown <c>kid</c> waits for a re-fetch, at most one per <c>KeyRefreshMinimumInterval</c>.
/// </summary>
/// <remarks>
/// IdentityModel's <see cref="ConfigurationManager{T}"/> (8.x) only schedules a background fetch on
/// <c>RequestRefresh</c>, so the request that carried the identity provider's new <c>kid</c> was validated against the
/// old keys and refused; a client does not retry a 401. Here that request waits for the keys it needs.
/// </remarks>
internal sealed class SigningKeySource
{
    // With no keys at all every request would otherwise start a fetch of a failing endpoint.
    private static readonly TimeSpan BootstrapRetryInterval = TimeSpan.FromSeconds(1);

    private readonly string _address;
    private readonly IConfigurationRetriever<OpenIdConnectConfiguration> _retriever;
    private readonly IDocumentRetriever _documents;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _minimumInterval;
    private readonly TimeProvider _time;
    private readonly Action<string, Exception>? _fetchFailed;
    private readonly Lock _gate = new();
    private KeyState? _state;
    private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;
    private Task<OpenIdConnectConfiguration?>? _fetch;
    private Exception? _lastFailure;

    public SigningKeySource(
        string address,
        IConfigurationRetriever<OpenIdConnectConfiguration> retriever,
        IDocumentRetriever documents,
        TimeSpan refreshInterval,
        TimeSpan minimumInterval,
        TimeProvider time,
        Action<string, Exception>? fetchFailed = null)
    {
        _address = address;
        _retriever = retriever;
        _documents = documents;
        _refreshInterval = refreshInterval;
        _minimumInterval = minimumInterval;
        _time = time;
        _fetchFailed = fetchFailed;
    }

    /// <summary>The current keys; waits only when none were fetched yet.</summary>
    /// <exception cref="InvalidOperationException">No keys could be fetched so far.</exception>
    public async ValueTask<OpenIdConnectConfiguration> GetAsync(CancellationToken cancellationToken)
    {
        var state = Volatile.Read(ref _state);
        if (state is not null)
        {
            if (_time.GetUtcNow() - state.FetchedAt >= _refreshInterval)
            {
                _ = Fetch(_minimumInterval);
            }

            return state.Configuration;
        }

        var fetched = await Fetch(BootstrapRetryInterval).WaitAsync(cancellationToken);
        return fetched ?? Volatile.Read(ref _state)?.Configuration ?? throw Unavailable();
    }

    /// <summary>
    /// Keys fetched now for a token whose <c>kid</c> is not among the current ones, or the current keys when a fetch
    /// ran less than <c>KeyRefreshMinimumInterval</c> ago (an attacker's random <c>kid</c>s cost one fetch per
    /// interval) or failed.
    /// </summary>
    /// <exception cref="InvalidOperationException">No keys could be fetched so far.</exception>
    public async ValueTask<OpenIdConnectConfiguration> RefreshAsync(CancellationToken cancellationToken)
    {
        var fetched = await Fetch(_minimumInterval).WaitAsync(cancellationToken);
        return fetched ?? Volatile.Read(ref _state)?.Configuration ?? throw Unavailable();
    }

    private Task<OpenIdConnectConfiguration?> Fetch(TimeSpan minimumGap)
    {
        lock (_gate)
        {
            if (_fetch is { IsCompleted: false } running)
            {
                return running;
            }

            var now = _time.GetUtcNow();
            if (now - _lastAttempt < minimumGap)
            {
                return Task.FromResult(Volatile.Read(ref _state)?.Configuration);
            }

            _lastAttempt = now;
            _fetch = FetchAsync();
            return _fetch;
        }
    }

    private async Task<OpenIdConnectConfiguration?> FetchAsync()
    {
        // Not on the caller's stack: the fetch is shared by every waiting request and outlives a cancelled one.
        await Task.Yield();
        try
        {
            var configuration = await _retriever.GetConfigurationAsync(_address, _documents, CancellationToken.None);
            if (configuration.SigningKeys.Count == 0)
            {
                // An empty set ({"keys":[]}, {}, or only keys IdentityModel cannot use) verifies nothing: taking it would
                // refuse every token as key_not_found until the next good fetch, instead of keeping the last good keys.
                throw new InvalidOperationException($"The document at '{_address}' holds no usable signing key.");
            }

            Volatile.Write(ref _state, new KeyState(configuration, _time.GetUtcNow()));
            return configuration;
        }
        catch (Exception ex)
        {
            // A remote document: whatever the fetch or the parser throws, the last good keys keep serving. Reported, or
            // keys going stale (or a 503 before any were fetched) said nowhere which fetch failed or why.
            Volatile.Write(ref _lastFailure, ex);
            _fetchFailed?.Invoke(_address, ex);
            return null;
        }
    }

    private InvalidOperationException Unavailable() =>
        new($"The signing keys at '{_address}' could not be fetched.", Volatile.Read(ref _lastFailure));

    private sealed record KeyState(OpenIdConnectConfiguration Configuration, DateTimeOffset FetchedAt);
}
