using System.Text.Json;
using Edge.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Testing;

/// <summary>
/// A real edge on real Kestrel listeners (proxy and management ports on loopback), reading its own proxy.json from a
/// temporary directory that the test may rewrite to exercise hot reload.
/// </summary>
public sealed class EdgeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EdgeHost(WebApplication app, string directory, string configPath, int proxyPort, int managementPort, EdgeTls? tls)
    {
        _app = app;
        Directory = directory;
        ConfigPath = configPath;
        ProxyPort = proxyPort;
        ManagementPort = managementPort;
        // The test made the certificate itself; the client trusts whatever the edge presents.
        Client = tls is null
            ? new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}"), Timeout = TimeSpan.FromSeconds(30) }
            : new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true } })
            {
                BaseAddress = new Uri($"https://localhost:{proxyPort}"),
                Timeout = TimeSpan.FromSeconds(30),
            };
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Directory { get; }

    /// <summary>
    /// The <c>data</c> of the audit record <paramref name="requestId"/> from this edge's local decision file (the
    /// shipped default without a writer), waiting up to 15 s for it to be written.
    /// </summary>
    public Task<JsonElement> LocalAuditDataAsync(string requestId) =>
        LocalAuditDataWhereAsync(requestId, record => true, requestId);

    /// <summary>The <c>data</c> of the first record in this edge's local decision file that <paramref name="match"/> accepts.</summary>
    public Task<JsonElement> LocalAuditDataWhereAsync(Func<JsonElement, bool> match) =>
        LocalAuditDataWhereAsync(null, match, "a matching record");

    private async Task<JsonElement> LocalAuditDataWhereAsync(string? requestId, Func<JsonElement, bool> match, string what)
    {
        var path = Path.Combine(Directory, "audit-decisions.ndjson");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    // The edge may be in the middle of appending the last line: a partial line is read again next round.
                    if (!line.EndsWith('}') || (requestId is not null && !line.Contains(requestId, StringComparison.Ordinal)))
                    {
                        continue;
                    }

                    using var record = JsonDocument.Parse(line);
                    if ((requestId is null || record.RootElement.GetProperty("id").GetString() == requestId)
                        && record.RootElement.TryGetProperty("data", out var data) && match(data))
                    {
                        return data.Clone();
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no audit record for {what} within 15 s");
    }

    public string ConfigPath { get; }

    public int ProxyPort { get; }

    public int ManagementPort { get; }

    public HttpClient Client { get; }

    public HttpClient Management { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// The current value of this edge's own observable gauge <paramref name="instrumentName"/> (null when it has none),
    /// read from its meter rather than a scrape, which the exporter caches for 300 ms.
    /// </summary>
    public long? ReadOwnGauge(string instrumentName)
    {
        var factory = Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        long? value = null;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == instrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, measurement, _, _) => value = measurement);
        listener.SetMeasurementEventCallback<int>((_, measurement, _, _) => value = measurement);
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }

    /// <summary>
    /// Starts an edge serving <paramref name="proxyJson"/>. Extra host settings are passed as <c>--key=value</c>. With
    /// <paramref name="tls"/> the proxy port is an HTTPS endpoint as docs/configuration.md sets one up
    /// (<c>Kestrel:Endpoints:Proxy</c> with the certificate, <c>Kestrel:Endpoints:Management</c> for the management port),
    /// and <see cref="Client"/> speaks HTTPS.
    /// </summary>
    public static async Task<EdgeHost> StartAsync(
        string proxyJson, IDictionary<string, string?>? settings = null, TimeProvider? timeProvider = null, Action<WebApplicationBuilder>? configure = null,
        EdgeTls? tls = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("edge-test-").FullName;
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, proxyJson);
        // A port that was free when picked can be taken before Kestrel binds it (an outgoing connection of another
        // test process gets it as its source port), so a failed bind picks new ports instead of failing the test.
        for (var attempt = 1; ; attempt++)
        {
            var proxyPort = FreePort.Next();
            var managementPort = FreePort.Next();
            var app = Build(directory, configPath, proxyPort, managementPort, settings, timeProvider, configure, tls);
            try
            {
                await app.StartAsync();
                return new EdgeHost(app, directory, configPath, proxyPort, managementPort, tls);
            }
            catch (IOException ex) when (attempt < 5 && ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // Hosted services that did start (the spool holds its directory's lock) stop before the next attempt.
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }

    private static WebApplication Build(
        string directory, string configPath, int proxyPort, int managementPort, IDictionary<string, string?>? settings, TimeProvider? timeProvider,
        Action<WebApplicationBuilder>? configure, EdgeTls? tls)
    {
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{proxyPort}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
            $"--Edge:ProxyConfigPath={configPath}",
            "--Edge:ConfigPollInterval=00:00:00.200",
            $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
            $"--Edge:Audit:LocalFile={Path.Combine(directory, "audit-decisions.ndjson")}",
        };
        if (tls is not null)
        {
            args.Add($"--Kestrel:Endpoints:Proxy:Url=https://127.0.0.1:{proxyPort}");
            args.Add($"--Kestrel:Endpoints:Proxy:Certificate:Path={tls.PfxPath}");
            args.Add($"--Kestrel:Endpoints:Proxy:Certificate:Password={tls.Password}");
            args.Add($"--Kestrel:Endpoints:Management:Url=http://127.0.0.1:{managementPort}");
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            args.Add($"--{key}={value}");
        }

        var app = EdgeApplication.Create([.. args], builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            if (timeProvider is not null)
            {
                builder.Services.AddSingleton(timeProvider);
            }

            configure?.Invoke(builder);
        });
        return app;
    }

    /// <summary>
    /// Waits (15 s at most) until /readyz's redis check is Healthy: the edge's shared connection answers PING. A Redis
    /// outage leaves /readyz at 200 (Degraded), so the status code alone does not say so.
    /// </summary>
    public async Task WaitUntilRedisConnectedAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var ready = JsonDocument.Parse(await Management.GetStringAsync("/readyz"));
            var redis = ready.RootElement.GetProperty("checks").GetProperty("redis");
            if (redis.GetProperty("status").GetString() == "Healthy")
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The edge's Redis did not answer within 15 s: {redis.GetProperty("description").GetString()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Rewrites proxy.json the way an editor would (write to a temp file, then rename over).</summary>
    public async Task WriteConfigAsync(string content)
    {
        var temp = ConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, content);
        File.Move(temp, ConfigPath, overwrite: true);
    }

    /// <summary>
    /// Stops the edge gracefully, as SIGTERM does (Kestrel drains within <c>HostOptions.ShutdownTimeout</c>, then the
    /// audit sinks drain), and keeps its directory, so the test can read what the stopped edge wrote.
    /// </summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Management.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>An HTTPS proxy endpoint: the .pfx holding the certificate and its key, and the file's password.</summary>
public sealed record EdgeTls(string PfxPath, string Password);
