using System.Globalization;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.Load.EdgeScenarios;
using Edge.Load.Reporting;
using Edge.Load.Running;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Load.Cli;

/// <summary><c>edge-load run|list|help</c>. Exit code 0: ok; 1: a threshold failed; 2: bad usage; 3: the run could not start.</summary>
public static class CliApp
{
    public const string Usage = """
        edge-load: load generator and reports for the edge.

        Usage:
          edge-load run --scenario NAME [--scenario NAME ...] --target URL --simulation SPEC [--simulation SPEC ...]
                        [--warmup 2s] [--report-folder DIR] [--threshold "p99<20ms" ...] [--thresholds-file FILE]
                        [--param key=value ...] [--timeout 10s] [--http2] [--quiet]
          edge-load list     scenarios and their parameters
          edge-load token [--key env:EDGE_JWT_HS256_KEY] [--sub user-0] [--tenant acme] [--roles Agent] [--iss https://id.example] [--aud edge] [--lifetime 1h]
                             prints one HS256 JWT, e.g. for curl
          edge-load keys --out DIR
                             writes rs256.pem and es256.pem (private, PKCS#8) and jwks.json (their public keys, kid rs256/es256)
                             for the jwt-rbac scenario's alg=RS256|ES256 and an edge route with JwksUrl
          edge-load audit-fill --store PATH [--records 1000000] [--tenants 16] [--principals 10000]
                               [--key PATH] [--subject-key PATH] [--origin NAME]
                             fills (or tops up) an audit writer's SQLite store with synthetic records for the audit-query scenario
          edge-load ratelimit [--smoke] [--redis single,cluster | --redis-connect CONN [--redis-pid PID]] [--instances 2]
                              [--modes strict,lease] [--keys 1,10000] [--copies 32] [--duration 5s] [--rate-fraction 0.8]
                              [--deadline 100ms] [--blackhole 2s] [--blackhole-rate 1000] [--rounds 2] [--out FILE]
                             decision-only throughput and latency of the edge's rate limiter on a real Redis (see 'ratelimit --help')
          edge-load audit-ingest --target URL --writer-pid PID [--records 200000] [--batch 2000] [--concurrency 1]
                                 [--rounds 3] [--tenants 16] [--principals 10000] [--token env:NAME] [--encoding identity|gzip|br]
                             posts batches to a running writer like an edge's shipper; prints records/s and writer CPU us/record
          edge-load request-alloc [--smoke] [--targets direct,yarp,edge-tenant,edge-lease,edge-strict] [--warmup 2000] [--requests 2000]
                                  [--rounds 5] [--types N] [--out FILE]
                             bytes allocated per request by bare YARP, the tenant-only edge and the full lease pipeline, in process
          edge-load help

        Simulations (phases run in order; one scenario is either open or closed model):
          inject:rate=500,interval=1s,during=10s       open model, fixed rate
          ramp-inject:rate=1000,interval=1s,during=30s open model, rate ramps from the previous phase
          constant:copies=50,during=10s                closed model, fixed number of looping copies
          ramp-constant:copies=100,during=30s          closed model, copies ramp from the previous phase
          pause:5s                                     no load
        Thresholds: [scenario[/step]:] metric op value, metric one of p50 p75 p95 p99 p999 mean min max stddev (ms),
          rps, fail%, fail, ok, requests. Example: --threshold "p99 < 20ms" --threshold "jwt-rbac:fail% < 1"
          A scenario without a fail% or fail threshold gets "fail% < 1" (default): 1% failed requests fail the run.
        Exit codes: 0 ok, 1 a threshold failed or a scenario or step got no ok response, 2 usage error, 3 run failed, 130 stopped by Ctrl+C (reports written for the part that ran).
        """;

    public const string RunUsage = """
        Usage: edge-load run --scenario NAME [--scenario NAME ...] --target URL --simulation SPEC [--simulation SPEC ...]
                             [--warmup 2s] [--report-folder DIR] [--threshold "p99<20ms" ...] [--thresholds-file FILE]
                             [--param key=value ...] [--timeout 10s] [--http2] [--quiet]
        Runs the named scenarios (see 'edge-load list') against --target and writes report.md, report.html, report.json and csv files.
        --http2 asks for HTTP/2 on every request: h2c with prior knowledge on http:// (the server must speak cleartext HTTP/2),
        ALPN on https:// (HTTP/1.1 if the server does not offer h2); the reports count responses on another version.
        Exit codes: 0 ok, 1 a threshold failed or a scenario or step got no ok response, 2 usage error, 3 run failed, 130 stopped by Ctrl+C (reports written for the part that ran).
        """;

    public const string ListUsage = """
        Usage: edge-load list
        Prints every scenario and its --param names with their defaults.
        """;

    public const string TokenUsage = """
        Usage: edge-load token [--key env:EDGE_JWT_HS256_KEY] [--sub user-0] [--tenant acme] [--roles Agent]
                               [--iss https://id.example] [--aud edge] [--lifetime 1h]
        Prints one HS256 JWT with the claims the edge reads (sub, tenant_id, roles, iss, aud, exp), e.g. for curl.
        The key is a secret reference: env:NAME or file:/path, never the key itself.
        """;

    public const string KeysUsage = """
        Usage: edge-load keys --out DIR
        Writes a fresh RS256 and ES256 key pair: DIR/rs256.pem and DIR/es256.pem (private, PKCS#8, mode 600) and DIR/jwks.json
        (public keys, kid "rs256" and "es256"). Serve jwks.json to the edge (JwksUrl) and pass
        --param alg=RS256 --param signing-key=file:DIR/rs256.pem to the jwt-rbac scenario.
        """;

    public const string AuditFillUsage = """
        Usage: edge-load audit-fill --store PATH [--records 1000000] [--tenants 16] [--principals 10000]
                                    [--key PATH] [--subject-key PATH] [--origin NAME]
          Appends synthetic records to an audit writer's SQLite store (created if missing) until it holds --records,
          through the writer's own append path: v2 records with each subject encrypted under its data key and indexed
          by the keyed blind index, as ingest would store them. --key (signing key, default DIR/writer.key),
          --subject-key (subject master key, default DIR/audit-subject.key) and --origin (default edge-audit) must be
          the ones the writer is started with (Writer:KeyPath, Writer:SubjectKeyPath, Writer:Origin); missing keys are
          generated. Stop the writer first; start it afterwards and it serves the checkpoint signed over them.
        """;

    public const string RateLimitUsage = """
        Usage: edge-load ratelimit [--smoke] [--redis single,cluster | --redis-connect CONN [--redis-pid PID]]
                                   [--instances 2] [--modes strict,lease[,script,get]] [--keys 1,10000] [--copies 32] [--duration 5s]
                                   [--warmup 1s] [--rate-fraction 0.8] [--max-rate 50000] [--deadline 100ms] [--blackhole 2s]
                                   [--blackhole-rate 1000] [--after-resume 3s] [--rounds 2] [--generator paced|sleep1]
                                   [--pace-min 100us] [--phases off|on] [--out FILE]
        Drives the edge's own rate limiter (EdgeRateLimiter.DecideAsync, registered as the edge registers it) without
        HTTP, against a redis-server and a real 3-master cluster it starts (or an existing Redis: --redis-connect, and
        --redis-pid for the blackhole phase), with --instances limiter instances sharing the buckets like edge processes.
        Per round, Redis and mode, for each --keys count (1 = one hot key): a closed model (--copies callers) gives the
        saturation rate, then an open model at --rate-fraction of it (at most --max-rate) gives p50/p99/p99.9 per decision (HdrHistogram,
        from the intended start: corrected for coordinated omission), Redis calls per decision (INFO commandstats over
        every master) and fallbacks by reason. The blackhole phase (--blackhole 0 skips it) SIGSTOPs Redis (on a cluster
        the hot key's master) under --blackhole-rate decisions/s and reports p99 against the deadline, fallbacks by
        reason, and when shared limiting resumed after SIGCONT. --generator: how the open model's dispatcher waits
        (paced: sub-millisecond sleeps until the next decision is due, at least --pace-min; sleep1: 1 ms sleeps, then
        every decision due); each row reports decisions per wake-up and the dispatcher's own CPU.
        --phases on: where each strict decision of the open model spent its time (coalescing, Redis, the two hops).
        --modes script,get: the host's floor, same client, instances and generator, no limiter: script sends the
        limiter's script once per decision (no coalescing, deadline, breaker or retry), get one GET of the same key.
        --smoke: one round, single Redis, about 15 s.
        Writes markdown to --out (or stdout). Exit codes: 0 done, 2 usage error, 3 the run failed.
        """;

    public const string AuditIngestUsage = """
        Usage: edge-load audit-ingest --target URL --writer-pid PID [--records 200000] [--batch 2000] [--concurrency 1]
                                      [--rounds 3] [--tenants 16] [--principals 10000] [--token env:NAME] [--encoding identity|gzip|br]
          Posts --records edge-shaped records (plaintext subjects, as an edge's spool holds them) per round to the running
          writer at --target, in NDJSON batches of --batch records with --concurrency batches in flight (an edge's shipper
          keeps one), then waits until a signed checkpoint covers them all. Each round uses fresh record ids and builds
          its batches before the clock starts. Prints per round: records/s acknowledged and records/s checkpointed (wall
          clock), and the writer's CPU per record from /proc/PID/stat (utime + stime), with the load average.
          --token is a secret reference (env:NAME or file:/path) to the writer's Writer:IngestToken.
        """;

    public const string RequestAllocUsage = """
        Usage: edge-load request-alloc [--smoke] [--targets direct,yarp,edge-tenant,edge-lease,edge-strict] [--warmup 2000]
                                       [--requests 2000] [--rounds 5] [--types N] [--out FILE]
          Starts, in this process, a raw HTTP/1.1 backend that allocates nothing per request (so the headers a proxy
          forwards cost the backend nothing here, as with a backend in its own process) and one target at a time on
          real Kestrel listeners: bare
          YARP (the same route, nothing else), the edge with the EdgeTenant step on shipped defaults, and the full lease
          pipeline (tenant, JWT HS256 + RBAC, the lease limiter on a redis-server it starts, the spool shipped to a real
          audit writer in its own process). A raw keep-alive client that allocates nothing per request sends --warmup
          GETs, then --rounds rounds of --requests; GC.GetTotalAllocatedBytes(precise: true) before and after each round
          gives bytes per request. `direct` (client and backend alone) is subtracted for the proxy column. Every response
          must be 200, and the writer's checkpoint must cover every full-pipeline request, or the run fails.
          --types N: then one sampled round per target (at least 20,000 requests) lists its N most allocated types, from the
          runtime's GCAllocationTick events (one sample per ~100 KB; approximate).
          --smoke: 20 + 30 requests, one round (CI checks the shape, not the numbers).
          Writes markdown to --out (or stdout). Exit codes: 0 done, 2 usage error, 3 the run failed.
        """;

    private static readonly Dictionary<string, string> SubcommandUsage = new(StringComparer.Ordinal)
    {
        ["audit-fill"] = AuditFillUsage,
        ["audit-ingest"] = AuditIngestUsage,
        ["run"] = RunUsage,
        ["list"] = ListUsage,
        ["token"] = TokenUsage,
        ["keys"] = KeysUsage,
        ["ratelimit"] = RateLimitUsage,
        ["request-alloc"] = RequestAllocUsage,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var command = args.Length == 0 ? "help" : args[0];
        if (IsHelp(args) && SubcommandUsage.TryGetValue(command, out var usage))
        {
            await stdout.WriteLineAsync(usage).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        switch (command)
        {
            case "help" or "--help" or "-h":
                await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
                return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
            case "keys":
                return await KeysCommandAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            case "list" when args.Length > 1:
                await stderr.WriteLineAsync($"list: unknown option '{args[1]}'.\n\n{ListUsage}").ConfigureAwait(false);
                return ExitCodes.Usage;
            case "list":
                foreach (var entry in EdgeScenarioCatalog.All)
                {
                    await stdout.WriteLineAsync($"{entry.Name}: {entry.Description}").ConfigureAwait(false);
                    foreach (var parameter in entry.Parameters)
                    {
                        await stdout.WriteLineAsync($"    --param {parameter}").ConfigureAwait(false);
                    }
                }

                return ExitCodes.Ok;
            case "run":
                return await RunCommandAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
            case "token":
                return await TokenCommandAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            case "audit-fill":
                return await AuditFillCommandAsync(args[1..], stdout, stderr).ConfigureAwait(false);
            case "ratelimit":
                return await RateLimitCommandAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
            case "audit-ingest":
                return await AuditIngestCommandAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
            case "request-alloc":
                return await RequestAllocCommandAsync(args[1..], stdout, stderr, cancellationToken).ConfigureAwait(false);
            default:
                await stderr.WriteLineAsync($"Unknown command '{command}'.\n\n{Usage}").ConfigureAwait(false);
                return ExitCodes.Usage;
        }
    }

    /// <summary>
    /// <c>--help</c> anywhere in a subcommand's arguments asks for its usage (exit 0), the way dotnet and git behave,
    /// so a half-typed command line plus <c>--help</c> still explains itself instead of failing on the missing parts.
    /// </summary>
    private static bool IsHelp(string[] args) => args.Skip(1).Any(static a => a is "--help" or "-h");

    private static async Task<int> AuditFillCommandAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? store = null, key = null, subjectKey = null, origin = "edge-audit";
        int records = 1_000_000, tenants = 16, principals = 10_000;
        for (var i = 0; i < args.Length; i += 2)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            var ok = args[i] switch
            {
                "--store" => (store = value) is not null,
                "--key" => (key = value) is not null,
                "--subject-key" => (subjectKey = value) is not null,
                "--origin" => !string.IsNullOrWhiteSpace(origin = value),
                "--records" => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out records) && records > 0,
                "--tenants" => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out tenants) && tenants > 0,
                "--principals" => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out principals) && principals > 0,
                _ => false,
            };
            if (!ok)
            {
                await stderr.WriteLineAsync($"audit-fill: bad option '{args[i]}' {value}.\n\n{AuditFillUsage}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
        }

        if (store is null)
        {
            await stderr.WriteLineAsync($"audit-fill: --store is required.\n\n{AuditFillUsage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(store))!;
        var options = new WriterOptions
        {
            StorePath = store,
            KeyPath = key ?? Path.Combine(directory, "writer.key"),
            SubjectKeyPath = subjectKey ?? Path.Combine(directory, "audit-subject.key"),
            Origin = origin!,
        };
        var started = System.Diagnostics.Stopwatch.StartNew();
        long written;
        AuditLog log;
        try
        {
            log = new AuditLog(options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // A --store that cannot be opened (a missing folder, a file that is not a store) ended the tool with a stack trace.
            await stderr.WriteLineAsync("audit-fill: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        using (log)
        {
            written = await AuditDataset.FillAsync(log.Size, records, tenants, principals,
                batch => log.AppendAsync(batch, CancellationToken.None)).ConfigureAwait(false);
            await log.CheckpointAsync(CancellationToken.None).ConfigureAwait(false);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{store}: wrote {written} records ({records} in the store) in {started.Elapsed.TotalSeconds:F1} s")).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task<int> RateLimitCommandAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        RateLimits.RateLimitBenchOptions options;
        try
        {
            options = RateLimits.RateLimitBenchOptions.Parse(args);
        }
        catch (FormatException ex)
        {
            await stderr.WriteLineAsync($"ratelimit: {ex.Message.TrimEnd('.')}.\n\n{RateLimitUsage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var started = DateTimeOffset.UtcNow;
        try
        {
            var (rows, blackholes) = await RateLimits.RateLimitBench.RunAsync(options, stderr, cancellationToken).ConfigureAwait(false);
            var markdown = RateLimits.RateLimitBenchReport.Markdown(options, rows, blackholes, started, DateTimeOffset.UtcNow);
            if (options.Out is { } path)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                await File.WriteAllTextAsync(path, markdown, CancellationToken.None).ConfigureAwait(false);
                await stdout.WriteLineAsync("wrote " + path).ConfigureAwait(false);
            }
            else
            {
                await stdout.WriteAsync(markdown).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or StackExchange.Redis.RedisException or OperationCanceledException)
        {
            await stderr.WriteLineAsync("ratelimit: the run failed: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.RunFailed;
        }
    }

    private static async Task<int> RequestAllocCommandAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        Allocations.RequestAllocationOptions options;
        try
        {
            options = Allocations.RequestAllocationOptions.Parse(args);
        }
        catch (FormatException ex)
        {
            await stderr.WriteLineAsync($"request-alloc: {ex.Message.TrimEnd('.')}.\n\n{RequestAllocUsage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var started = DateTimeOffset.UtcNow;
        try
        {
            var rows = await Allocations.RequestAllocationBench.RunAsync(options, stderr, cancellationToken).ConfigureAwait(false);
            var markdown = Allocations.RequestAllocationReport.Markdown(options, rows, started);
            if (options.Out is { } path)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                await File.WriteAllTextAsync(path, markdown, CancellationToken.None).ConfigureAwait(false);
                await stdout.WriteLineAsync("wrote " + path).ConfigureAwait(false);
            }
            else
            {
                await stdout.WriteAsync(markdown).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or HttpRequestException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            await stderr.WriteLineAsync("request-alloc: the run failed: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.RunFailed;
        }
    }

    private static async Task<int> AuditIngestCommandAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        Uri? target = null;
        string? token = null, encoding = "identity";
        int pid = 0, records = 200_000, batch = 2_000, concurrency = 1, rounds = 3, tenants = 16, principals = 10_000;
        static bool Positive(string? value, out int result) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out result) && result > 0;
        for (var i = 0; i < args.Length; i += 2)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            var ok = args[i] switch
            {
                "--target" => Uri.TryCreate(value, UriKind.Absolute, out target),
                "--writer-pid" => Positive(value, out pid),
                "--records" => Positive(value, out records),
                "--batch" => Positive(value, out batch),
                "--concurrency" => Positive(value, out concurrency),
                "--rounds" => Positive(value, out rounds),
                "--tenants" => Positive(value, out tenants),
                "--principals" => Positive(value, out principals),
                "--token" => (token = value) is not null,
                "--encoding" => (encoding = value) is "identity" or "gzip" or "br",
                _ => false,
            };
            if (!ok)
            {
                await stderr.WriteLineAsync($"audit-ingest: bad option '{args[i]}' {value}.\n\n{AuditIngestUsage}").ConfigureAwait(false);
                return ExitCodes.Usage;
            }
        }

        if (target is null || pid == 0)
        {
            await stderr.WriteLineAsync($"audit-ingest: --target and --writer-pid are required.\n\n{AuditIngestUsage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        if (!File.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat"))
        {
            await stderr.WriteLineAsync($"audit-ingest: no process {pid} in /proc (the writer's CPU is read from /proc/PID/stat).").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        string? resolvedToken;
        try
        {
            resolvedToken = token is null ? null : LoadSecret.Resolve(token, "audit-ingest: --token");
        }
        catch (InvalidOperationException ex)
        {
            await stderr.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var load = new AuditIngestLoad
        {
            Target = target, WriterPid = pid, Records = records, Batch = batch, Concurrency = concurrency,
            Tenants = tenants, Principals = principals, Encoding = encoding!,
            Token = resolvedToken,
        };
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        await stdout.WriteLineAsync("| round | load avg | records | batch | in flight | encoding | wire MB | acked rec/s | checkpointed rec/s | writer CPU µs/record | writer bytes written/record |").ConfigureAwait(false);
        await stdout.WriteLineAsync("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|").ConfigureAwait(false);
        for (var round = 1; round <= rounds; round++)
        {
            AuditIngestLoad.Round result;
            try
            {
                result = await load.RunRoundAsync(http, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException or System.Text.Json.JsonException)
            {
                await stderr.WriteLineAsync("audit-ingest: " + ex.Message).ConfigureAwait(false);
                return ExitCodes.RunFailed;
            }

            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"| {round} | {result.LoadAverage} | {result.Records} | {batch} | {concurrency} | {encoding} | {result.WireBytes / 1e6:F1} | {result.IngestedPerSecond:N0} | {result.CheckpointedPerSecond:N0} | {result.CpuMicrosecondsPerRecord:F1} | {result.WrittenBytesPerRecord:N0} |")).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> KeysCommandAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args is not ["--out", var folder])
        {
            await stderr.WriteLineAsync($"keys: expected --out DIR, got '{string.Join(' ', args)}'.\n\n{KeysUsage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        using var ecdsa = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        try
        {
            Directory.CreateDirectory(folder);
            await WritePrivateAsync(Path.Combine(folder, "rs256.pem"), rsa.ExportPkcs8PrivateKeyPem()).ConfigureAwait(false);
            await WritePrivateAsync(Path.Combine(folder, "es256.pem"), ecdsa.ExportPkcs8PrivateKeyPem()).ConfigureAwait(false);
            var jwks = Edge.Testing.Signing.JwtSigningKey.JwksJson(
                Edge.Testing.Signing.JwtSigningKey.Rs256(rsa, "rs256"), Edge.Testing.Signing.JwtSigningKey.Es256(ecdsa, "es256"));
            await File.WriteAllTextAsync(Path.Combine(folder, "jwks.json"), jwks).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // An --out that cannot be written ended the tool with a stack trace (exit 134).
            await stderr.WriteLineAsync($"keys: --out '{folder}' cannot be written: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        await stdout.WriteLineAsync("wrote " + Path.Combine(folder, "{rs256.pem,es256.pem,jwks.json}")).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    private static async Task WritePrivateAsync(string path, string pem)
    {
        await File.WriteAllTextAsync(path, pem).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static async Task<int> TokenCommandAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--key"] = "env:EDGE_JWT_HS256_KEY", ["--sub"] = "user-0", ["--tenant"] = "acme", ["--roles"] = "Agent",
            ["--iss"] = "https://id.example", ["--aud"] = "edge", ["--lifetime"] = "1h",
        };
        try
        {
            for (var i = 0; i < args.Length; i += 2)
            {
                if (!options.ContainsKey(args[i]) || i + 1 >= args.Length)
                {
                    throw new FormatException($"token: unknown option or missing value '{args[i]}'.");
                }

                options[args[i]] = args[i + 1];
            }

            // A token that expires as it is issued (--lifetime 0s) was printed as if usable; the edge then answered 401.
            var lifetime = Simulations.DurationParser.Parse(options["--lifetime"]);
            if (lifetime <= TimeSpan.Zero)
            {
                throw new FormatException($"token: --lifetime must be positive, got '{options["--lifetime"]}'.");
            }

            var key = System.Text.Encoding.UTF8.GetBytes(LoadSecret.Resolve(options["--key"], "token: HS256 key"));
            var minter = new Edge.Testing.Signing.JwtMinter(Edge.Testing.Signing.JwtSigningKey.Hs256(key), options["--iss"], options["--aud"], TimeProvider.System);
            var roles = options["--roles"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            await stdout.WriteLineAsync(minter.Mint(options["--sub"], options["--tenant"], roles, lifetime)).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or IOException)
        {
            await stderr.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }

    private static async Task<int> RunCommandAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        RunArguments parsed;
        List<Scenarios.ScenarioDefinition> scenarios = [];
        try
        {
            parsed = RunArguments.Parse(args);
            foreach (var name in parsed.Scenarios)
            {
                var entry = EdgeScenarioCatalog.Find(name) ?? throw new FormatException($"Unknown scenario '{name}'. Known: {string.Join(", ", EdgeScenarioCatalog.All.Select(static e => e.Name))}.");
                scenarios.Add(entry.Create().WithLoadSimulations([.. parsed.Simulations]).WithWarmUp(parsed.WarmUp));
            }

            // A threshold scoped to a scenario the run does not select can only fail, and used to do so after the whole run.
            foreach (var threshold in parsed.Thresholds)
            {
                if (threshold.Scenario is { } scoped && !scenarios.Exists(s => s.Name == scoped))
                {
                    throw new FormatException($"Threshold '{threshold.Expression}' names scenario '{scoped}', which this run does not select (selected: {string.Join(", ", scenarios.Select(static s => s.Name))}).");
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var folder = parsed.ReportFolder ?? Path.Combine("load", "reports", string.Join('+', parsed.Scenarios) + "-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var options = new LoadTestOptions
        {
            Title = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)),
            Target = parsed.Target,
            Parameters = parsed.Parameters,
            RequestTimeout = parsed.Timeout,
            Http2 = parsed.Http2,
            Progress = parsed.Quiet ? null : stdout,
        };

        // Before the run, not after it: a folder that cannot be written would otherwise lose a whole run's results.
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            await stderr.WriteLineAsync($"error: --report-folder '{folder}' cannot be created: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        RunReport report;
        try
        {
            report = await LoadTest.RunAsync(scenarios, options, parsed.Thresholds, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            // A parameter no scenario reads, or one that does not parse.
            await stderr.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or HttpRequestException)
        {
            await stderr.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.RunFailed;
        }

        foreach (var path in ReportWriter.WriteAll(report, folder))
        {
            await stdout.WriteLineAsync("report: " + path).ConfigureAwait(false);
        }

        foreach (var scenario in report.Scenarios)
        {
            var g = scenario.Global;
            var latency = g.Ok.Count == 0
                ? "no ok responses"
                : string.Create(CultureInfo.InvariantCulture, $"p50={g.Ok.P50Ms:0.000}ms p99={g.Ok.P99Ms:0.000}ms max={g.Ok.MaxMs:0.000}ms");
            var offered = scenario.OfferedRps is { } rate ? " offered-rps=" + Formatting.Rate(rate) : "";
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{scenario.Name}: ok={g.Ok.Count} fail={g.Fail.Count} ok-rps={Formatting.Rate(g.Ok.Rps)}{offered} {latency}")).ConfigureAwait(false);
            await stdout.WriteLineAsync($"{scenario.Name}: protocol: {scenario.ProtocolText}").ConfigureAwait(false);
            if (scenario.OtherProtocolResponses > 0)
            {
                // Numbers taken on HTTP/1.1 are not HTTP/2 numbers; the run still counts them (the server chose), but says so.
                await stderr.WriteLineAsync($"warning: {scenario.Name}: protocol: {scenario.ProtocolText}").ConfigureAwait(false);
            }
            if (scenario.OfferedRateMissed)
            {
                // Not a failure by itself (an open model above capacity is a legitimate test), but never a silent one.
                await stderr.WriteLineAsync($"warning: {scenario.Name}: {scenario.OfferedText}").ConfigureAwait(false);
            }

            if (scenario.GeneratorFellBehind)
            {
                // The tool itself was a bottleneck: its lateness is in every latency figure, so they overstate the target's.
                await stderr.WriteLineAsync($"warning: {scenario.Name}: {scenario.GeneratorText}; lower the rate or split the load over several processes").ConfigureAwait(false);
            }
        }

        foreach (var threshold in report.Thresholds)
        {
            await (threshold.Passed ? stdout : stderr).WriteLineAsync($"threshold {threshold.Scenario}/{threshold.Step}: {threshold.Message}").ConfigureAwait(false);
        }

        if (report.Scenarios.Any(static s => s.Cancelled))
        {
            // A CI job stopped half-way must not pass its gate on the part that ran.
            await stderr.WriteLineAsync("interrupted: the reports and thresholds cover only the part that ran; requests in flight at the stop are failures with status 'cancelled'.").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }

        // A dead target answers every request with a fast connection error: without this the run passed (exit 0) unless
        // the caller had thought of "fail% < 1".
        foreach (var reason in report.WithoutOk)
        {
            await stderr.WriteLineAsync("failed: " + reason).ConfigureAwait(false);
        }

        return report.Passed ? ExitCodes.Ok : ExitCodes.ThresholdFailed;
    }
}
