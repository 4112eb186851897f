using StackExchange.Redis;

namespace Edge.Proxy.Redis;

/// <summary>
/// The single shared Redis connection, present only when <c>Edge:Redis</c> is set. The multiplexer reconnects by
/// itself; steps must check <see cref="IConnectionMultiplexer.IsConnected"/> and apply their own outage mode.
/// </summary>
internal sealed class EdgeRedis : IDisposable
{
    private readonly Lazy<IConnectionMultiplexer>? _connection;

    public EdgeRedis(string? configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration))
        {
            return;
        }

        var options = ConfigurationOptions.Parse(configuration);
        // Never fail startup on a Redis outage: the edge must come up and apply each policy's outage mode.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = options.ConnectTimeout is 5000 ? 2000 : options.ConnectTimeout;
        options.ClientName ??= "edge";
        _connection = new Lazy<IConnectionMultiplexer>(() => ConnectionMultiplexer.Connect(options));
    }

    public bool IsConfigured => _connection is not null;

    /// <summary>The multiplexer; connecting happens on first use. Null when Redis is not configured.</summary>
    public IConnectionMultiplexer? Multiplexer => _connection?.Value;

    public void Dispose()
    {
        if (_connection is { IsValueCreated: true })
        {
            _connection.Value.Dispose();
        }
    }
}
