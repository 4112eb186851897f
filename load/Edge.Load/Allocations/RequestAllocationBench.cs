using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Edge.Proxy;
using Edge.Testing;
using Edge.Testing.Signing;

namespace Edge.Load.Allocations;

/// <summary>One target's measured rounds: bytes the whole process allocated per request, one entry per round.</summary>
internal sealed record RequestAllocationRow(string Target, string Description, int Requests, IReadOnlyList<double> BytesPerRequest)
{
    /// <summary>CPU time of the whole process per request (user + system), one entry per round; noisy on a shared machine.</summary>
    public IReadOnlyList<double> CpuMicrosecondsPerRequest { get; init; } = [];

    public double CpuMedian => MedianOf(CpuMicrosecondsPerRequest);

    /// <summary>With <c>--types</c>: sampled bytes per request by type, from a separate round of <see cref="SampledRequests"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> SampledTypes { get; init; } = [];

    public int SampledRequests { get; init; }

    public double Median => MedianOf(BytesPerRequest);

    public double Min => BytesPerRequest.Min();

    public double Max => BytesPerRequest.Max();

    private static double MedianOf(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// Bytes allocated per request by a real Kestrel proxy, in process: a raw keep-alive client (no allocation of its own)
/// sends sequential GETs to a target, and <see cref="GC.GetTotalAllocatedBytes(bool)"/> (every thread, precise) is read
/// before and after each round. The backend (<see cref="RawHttpBackend"/>, in the same process) allocates nothing per
/// request whatever headers it is sent; the <c>direct</c> target (client to backend) measures the harness alone, and the
/// report subtracts it to give the proxy's own bytes per request.
/// Targets: bare YARP (the same route, nothing else), the edge with the <c>EdgeTenant</c> step on shipped defaults
/// (decisions to the local NDJSON file), the full strict pipeline (as the lease one below, the limiter in strict mode), and the full lease pipeline (tenant, JWT HS256 + RBAC, the lease limiter on a
/// real redis-server, every decision spooled and shipped to a real audit writer in its own process, so the
/// writer's allocations are not counted and the edge's shipping is).
/// </summary>
internal static class RequestAllocationBench
{
    private const string Path = "/fast";
    private const string TenantHeader = "X-Tenant-ID";
    private const string Tenant = "acme";
    private const string JwtKeyVariable = "EDGE_REQUEST_ALLOC_JWT_KEY";

    public static async Task<IReadOnlyList<RequestAllocationRow>> RunAsync(RequestAllocationOptions options, TextWriter log, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("edge-request-alloc-").FullName;
        var rows = new List<RequestAllocationRow>();
        try
        {
            await using var backend = RawHttpBackend.Start("""{"ok":true,"service":"bench-backend"}"""u8);
            var needsRedis = options.Targets.Any(static t => t.StartsWith("edge-", StringComparison.Ordinal));
            await using var redis = needsRedis ? await RedisServer.StartAsync().ConfigureAwait(false) : null;
            await using var writer = options.Targets.Any(static t => t is "edge-lease" or "edge-strict") ? await AuditWriterProcess.StartAsync(directory, cancellationToken).ConfigureAwait(false) : null;
            foreach (var target in options.Targets)
            {
                await log.WriteLineAsync($"request-alloc: {target}").ConfigureAwait(false);
                rows.Add(await MeasureAsync(target, options, directory, backend.Port, redis, writer, cancellationToken).ConfigureAwait(false));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return rows;
    }

    private static async Task<RequestAllocationRow> MeasureAsync(
        string target, RequestAllocationOptions options, string directory, int backendPort, RedisServer? redis, AuditWriterProcess? writer, CancellationToken cancellationToken)
    {
        var (description, headers) = target switch
        {
            "direct" => ("client and backend, no proxy (subtracted from the proxy rows)", new List<KeyValuePair<string, string>>()),
            "yarp" => ("bare YARP 2.3, the same route, no steps, no logging", []),
            "edge-tenant" => ("Edge, `EdgeTenant` only, shipped defaults (local NDJSON audit file)", [new(TenantHeader, Tenant)]),
            "edge-strict" => ("Edge, tenant + JWT HS256 + RBAC + strict limiter on Redis + spool shipped to the audit writer",
                [new(TenantHeader, Tenant), new("Authorization", "Bearer " + MintToken())]),
            _ => ("Edge, tenant + JWT HS256 + RBAC + lease limiter on Redis + spool shipped to the audit writer",
                [new(TenantHeader, Tenant), new("Authorization", "Bearer " + MintToken())]),
        };

        var targetDirectory = System.IO.Path.Combine(directory, target);
        Directory.CreateDirectory(targetDirectory);
        await using var host = target switch
        {
            "direct" => null,
            "yarp" => await StartAsync(port => BuildBareYarp(port, targetDirectory, backendPort)).ConfigureAwait(false),
            "edge-tenant" => await StartAsync(port => BuildEdge(port, targetDirectory, TenantConfig(backendPort), redis!, writer: null)).ConfigureAwait(false),
            "edge-strict" => await StartAsync(port => BuildEdge(port, targetDirectory, FullConfig(backendPort, "Strict"), redis!, writer)).ConfigureAwait(false),
            _ => await StartAsync(port => BuildEdge(port, targetDirectory, FullConfig(backendPort, "Lease"), redis!, writer)).ConfigureAwait(false),
        };
        var port = host?.Port ?? backendPort;
        await using var connection = await RawHttpConnection.OpenAsync(port, Path, headers, cancellationToken).ConfigureAwait(false);
        await SendAsync(connection, options.Warmup, target, cancellationToken).ConfigureAwait(false);
        var perRequest = new List<double>(options.Rounds);
        var cpuPerRequest = new List<double>(options.Rounds);
        using var process = Process.GetCurrentProcess();
        for (var round = 0; round < options.Rounds; round++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await SendAsync(connection, options.Requests, target, cancellationToken).ConfigureAwait(false);
            var after = GC.GetTotalAllocatedBytes(precise: true);
            process.Refresh();
            perRequest.Add((after - before) / (double)options.Requests);
            cpuPerRequest.Add((process.TotalProcessorTime - cpuBefore).TotalMicroseconds / options.Requests);
        }

        IReadOnlyList<KeyValuePair<string, double>> types = [];
        var sampled = 0;
        if (options.Types > 0)
        {
            // About one sample per 100 KB: enough requests for a few thousand samples.
            sampled = Math.Max(options.Requests, 20_000);
            using var sampler = new AllocationSampler();
            sampler.Start();
            await SendAsync(connection, sampled, target, cancellationToken).ConfigureAwait(false);
            types = [.. sampler.Stop().Take(options.Types).Select(p => KeyValuePair.Create(p.Key, p.Value / (double)sampled))];
        }

        if (writer is not null && target is "edge-lease" or "edge-strict")
        {
            // Every request's decision must have reached the writer: otherwise the edge's shipping was not measured.
            await writer.WaitForRecordsAsync(options.Warmup + ((long)options.Rounds * options.Requests) + sampled, cancellationToken).ConfigureAwait(false);
        }

        return new RequestAllocationRow(target, description, options.Requests, perRequest) { CpuMicrosecondsPerRequest = cpuPerRequest, SampledTypes = types, SampledRequests = sampled };
    }

    private static async Task SendAsync(RawHttpConnection connection, int count, string target, CancellationToken cancellationToken)
    {
        for (var i = 0; i < count; i++)
        {
            var status = await connection.SendAsync(cancellationToken).ConfigureAwait(false);
            if (status != 200)
            {
                throw new InvalidOperationException($"{target} answered {status}: every request of the benchmark must be served.");
            }
        }
    }

    private static string MintToken()
    {
        var key = Environment.GetEnvironmentVariable(JwtKeyVariable);
        if (string.IsNullOrEmpty(key))
        {
            key = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
            Environment.SetEnvironmentVariable(JwtKeyVariable, key);
        }

        var minter = new JwtMinter(JwtSigningKey.Hs256(System.Text.Encoding.UTF8.GetBytes(key)), "https://id.example", "edge", TimeProvider.System);
        return minter.Mint("user-0", Tenant, ["Agent"], TimeSpan.FromHours(1));
    }

    // The routes of load/bench/proxy.tenant.json, proxy.full-lease.json and proxy.full.json, so this harness and load/bench.sh measure the same thing.
    private static string BareConfig(int backendPort) => $$"""
        {
          "ReverseProxy": {
            "Routes": { "bench": { "ClusterId": "backend", "Match": { "Path": "{{Path}}" } } },
            "Clusters": { "backend": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{backendPort}}/" } } } }
          }
        }
        """;

    private static string TenantConfig(int backendPort) => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "bench": {
                "ClusterId": "backend", "Match": { "Path": "{{Path}}" }, "Metadata": { "EdgeAudit": "Required" },
                "Transforms": [ { "EdgeTenant": "Header", "Name": "{{TenantHeader}}", "Required": "true" } ]
              }
            },
            "Clusters": { "backend": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{backendPort}}/" } } } }
          }
        }
        """;

    private static string FullConfig(int backendPort, string mode) => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "bench": {
                "ClusterId": "backend", "Match": { "Path": "{{Path}}" }, "Metadata": { "EdgeAudit": "Required" },
                "Transforms": [
                  { "EdgeTenant": "Header", "Name": "{{TenantHeader}}", "Required": "true" },
                  { "EdgeAuthenticate": "bench-hs256" },
                  { "EdgeRateLimit": "bench-huge" },
                  { "EdgeRequire": "orders.read" }
                ]
              }
            },
            "Clusters": { "backend": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{backendPort}}/" } } } }
          },
          "Edge": {
            "RateLimits": {
              "bench-huge": {
                "Algorithm": "TokenBucket", "Limit": 10000000, "Window": "01:00:00", "Burst": 10000000,
                "Key": "{tenant}:{principal}", "Mode": "{{mode}}", "OnRedisUnavailable": "Local"
              }
            },
            "Authentication": {
              "bench-hs256": {
                "Type": "Jwt", "Issuer": "https://id.example", "Audience": "edge", "SigningKey": "env:{{JwtKeyVariable}}",
                "Algorithms": [ "HS256" ], "RoleClaim": "roles", "TenantClaim": "tenant_id"
              }
            },
            "Roles": { "Agent": [ "orders.read", "orders.write" ] }
          }
        }
        """;

    private static WebApplication BuildBareYarp(int port, string directory, int backendPort)
    {
        var config = System.IO.Path.Combine(directory, "proxy.json");
        File.WriteAllText(config, BareConfig(backendPort));
        // What load/Edge.Load.BenchHost's `yarp` target builds: YARP with nothing else.
        var builder = WebApplication.CreateBuilder([$"--urls=http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"]);
        builder.Logging.ClearProviders();
        builder.Configuration.AddJsonFile(config, optional: false, reloadOnChange: false);
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        var app = builder.Build();
        app.MapReverseProxy();
        return app;
    }

    private static WebApplication BuildEdge(int port, string directory, string proxyJson, RedisServer redis, AuditWriterProcess? writer)
    {
        var config = System.IO.Path.Combine(directory, "proxy.json");
        File.WriteAllText(config, proxyJson);
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next().ToString(CultureInfo.InvariantCulture)}",
            $"--Edge:ProxyConfigPath={config}",
            $"--Edge:Redis=127.0.0.1:{redis.Port.ToString(CultureInfo.InvariantCulture)}",
            $"--Edge:Audit:SpoolPath={System.IO.Path.Combine(directory, "spool")}",
            $"--Edge:Audit:LocalFile={System.IO.Path.Combine(directory, "decisions.ndjson")}",
        };
        if (writer is not null)
        {
            args.Add($"--Edge:Audit:WriterUrl={writer.Url}");
        }

        // Shipped defaults otherwise: the edge's own logging and metrics, as `edge` runs them.
        return EdgeApplication.Create([.. args]);
    }

    private static async Task<RunningHost> StartAsync(Func<int, WebApplication> build)
    {
        // A port free when picked can be taken before Kestrel binds it; pick again rather than fail the run.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var app = build(port);
            try
            {
                await app.StartAsync().ConfigureAwait(false);
                return new RunningHost(app, port);
            }
            catch (IOException ex) when (attempt < 5 && ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed class RunningHost(WebApplication app, int port) : IAsyncDisposable
    {
        public int Port => port;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
