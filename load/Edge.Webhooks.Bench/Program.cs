using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Edge.Proxy;
using Edge.Proxy.Configuration;
using Edge.Proxy.Webhooks;
using Microsoft.AspNetCore.Http;
using NSec.Cryptography;

// Webhook verification benchmark: (1) the verifier alone per body size and scheme, (2) an edge route with the
// EdgeWebhook step against the same route without it, measured in the same run (ratios, not absolute claims).
// Usage: dotnet run -c Release --project load/Edge.Webhooks.Bench -- [--seconds 2] [--rounds 6] [--concurrency 8] [--micro-only]
var seconds = IntArg("--seconds", 2);
var rounds = IntArg("--rounds", 6);
var concurrency = IntArg("--concurrency", 8);
var microOnly = args.Contains("--micro-only");

Console.WriteLine($"# Edge webhook benchmark ({DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, .NET {Environment.Version})");
Console.WriteLine();
Micro.Run();
if (!microOnly)
{
    await Macro.RunAsync(seconds, concurrency, rounds);
}

int IntArg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

internal static class Micro
{
    private const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    public static void Run()
    {
        Console.WriteLine("## Verifier alone (mean per verification, single thread)");
        Console.WriteLine();
        Console.WriteLine("| scheme | body | mean | throughput |");
        Console.WriteLine("|---|---|---|---|");
        var seed = RandomNumberGenerator.GetBytes(32);
        foreach (var size in new[] { 1024, 1024 * 1024 })
        {
            var body = RandomNumberGenerator.GetBytes(size);
            foreach (var (name, verifier, headers) in Cases(body, seed))
            {
                var check = verifier.Verify(headers, body);
                if (!check.IsValid)
                {
                    throw new InvalidOperationException($"{name}: benchmark delivery does not verify ({check.Reason})");
                }

                var mean = Measure(() => verifier.Verify(headers, body), size);
                var throughput = name.StartsWith("Telegram", StringComparison.Ordinal) ? "n/a (body not signed)" : $"{size / mean.TotalSeconds / (1024 * 1024):F0} MiB/s";
                Console.WriteLine($"| {name} | {Size(size)} | {Format(mean)} | {throughput} |");
            }
        }

        Console.WriteLine();
    }

    private static IEnumerable<(string Name, IWebhookVerifier Verifier, IHeaderDictionary Headers)> Cases(byte[] body, byte[] seed)
    {
        const long ts = 1_700_000_000;
        yield return ("GitHub (HMAC-SHA256 hex)", Policy("GitHub", "github-secret"),
            new HeaderDictionary { ["X-Hub-Signature-256"] = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData("github-secret"u8, body)), ["X-GitHub-Delivery"] = "d" });
        yield return ("Stripe (t + v1)", Policy("Stripe", "whsec_stripe"),
            new HeaderDictionary { ["Stripe-Signature"] = $"t={ts},v1=" + Convert.ToHexStringLower(HMACSHA256.HashData("whsec_stripe"u8.ToArray(), (byte[])[.. Encoding.ASCII.GetBytes($"{ts}."), .. body])) });
        yield return ("Standard Webhooks v1 (HMAC base64)", Policy("StandardWebhooks", StandardSecret), new HeaderDictionary
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = ts.ToString(CultureInfo.InvariantCulture),
            ["webhook-signature"] = "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(StandardSecret[6..]), (byte[])[.. Encoding.ASCII.GetBytes($"msg_1.{ts}."), .. body])),
        });
        using var key = Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        var publicKey = "whpk_" + Convert.ToBase64String(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        yield return ("Standard Webhooks v1a (Ed25519)", Policy("StandardWebhooks", publicKey), new HeaderDictionary
        {
            ["webhook-id"] = "msg_1",
            ["webhook-timestamp"] = ts.ToString(CultureInfo.InvariantCulture),
            ["webhook-signature"] = "v1a," + Convert.ToBase64String(SignatureAlgorithm.Ed25519.Sign(key, (byte[])[.. Encoding.ASCII.GetBytes($"msg_1.{ts}."), .. body])),
        });
        yield return ("Telegram (token)", Policy("Telegram", "tg_token"), new HeaderDictionary { ["X-Telegram-Bot-Api-Secret-Token"] = "tg_token" });
    }

    private static IWebhookVerifier Policy(string scheme, string secret)
    {
        var variable = "EDGE_BENCH_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, secret);
        var errors = new ConfigErrorList();
        return WebhookPolicy.TryCreate("bench", new WebhookPolicyOptions { Scheme = scheme, Secrets = ["env:" + variable] }, errors)?.Verifier
            ?? throw new InvalidOperationException(string.Join("; ", errors.Items.Select(e => e.Message)));
    }

    private static TimeSpan Measure(Action action, int size)
    {
        var iterations = Math.Max(20, 50_000_000 / Math.Max(size, 1024));
        for (var i = 0; i < iterations / 10; i++)
        {
            action();
        }

        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            action();
        }

        return stopwatch.Elapsed / iterations;
    }

    public static string Size(int size) => size >= 1024 * 1024 ? $"{size / (1024 * 1024)} MiB" : $"{size / 1024} KiB";

    public static string Format(TimeSpan time) => time.TotalMilliseconds >= 1 ? $"{time.TotalMilliseconds:F2} ms" : $"{time.TotalMicroseconds:F1} µs";
}

internal static class Macro
{
    private const string Secret = "bench-github-secret";

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static async Task RunAsync(int seconds, int concurrency, int rounds)
    {
        var backendPort = FreePort();
        var backend = WebApplication.CreateSlimBuilder();
        backend.Logging.ClearProviders();
        backend.WebHost.UseUrls($"http://127.0.0.1:{backendPort}");
        backend.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var backendApp = backend.Build();
        backendApp.Run(async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("ok");
        });
        await backendApp.StartAsync();

        Environment.SetEnvironmentVariable("EDGE_BENCH_GITHUB_SECRET", Secret);
        var directory = Directory.CreateTempSubdirectory("edge-webhook-bench-").FullName;
        var config = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(config, $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "plain": { "ClusterId": "b", "Match": { "Path": "/plain" } },
              "signed": { "ClusterId": "b", "Match": { "Path": "/signed" }, "Transforms": [ { "EdgeWebhook": "github" } ] }
            },
            "Clusters": { "b": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{backendPort}}/" } } } }
          },
          "Edge": { "Webhooks": { "github": { "Scheme": "GitHub", "Secrets": [ "env:EDGE_BENCH_GITHUB_SECRET" ], "MaxBodyBytes": 2097152 } } }
        }
        """);
        var edgePort = FreePort();
        var edge = EdgeApplication.Create(
        [
            $"--urls=http://127.0.0.1:{edgePort}",
            $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort()}",
            $"--Edge:ProxyConfigPath={config}",
            "--Serilog:MinimumLevel:Default=Warning",
            "--Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime=Warning",
        ]);
        await edge.StartAsync();

        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{edgePort}"),
            Timeout = TimeSpan.FromSeconds(60),
        };

        Console.WriteLine($"## Through the edge: signed route vs the same route without the step");
        Console.WriteLine();
        Console.WriteLine($"{concurrency} concurrent clients, loopback backend; {rounds} rounds of {seconds} s per route and body size, the order alternating each round so drift in background load does not favour one route. Ratio = signed / plain throughput within the same round.");
        Console.WriteLine();
        Console.WriteLine("| body | plain req/s (median) | signed req/s (median) | plain p50 / p99 | signed p50 / p99 | ratio per round | median ratio |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var size in new[] { 1024, 1024 * 1024 })
        {
            var body = RandomNumberGenerator.GetBytes(size);
            var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), body));
            await RunCellAsync(client, "/plain", body, signature, concurrency, 1);
            await RunCellAsync(client, "/signed", body, signature, concurrency, 1);
            var plain = new List<Result>();
            var signed = new List<Result>();
            for (var round = 0; round < rounds; round++)
            {
                foreach (var path in round % 2 == 0 ? new[] { "/plain", "/signed" } : ["/signed", "/plain"])
                {
                    var result = await RunCellAsync(client, path, body, signature, concurrency, seconds);
                    (path == "/plain" ? plain : signed).Add(result);
                }
            }

            var ratios = plain.Zip(signed, (p, s) => s.Throughput / p.Throughput).ToList();
            Console.WriteLine(
                $"| {Micro.Size(size)} | {Median(plain.Select(r => r.Throughput)):F0} | {Median(signed.Select(r => r.Throughput)):F0} " +
                $"| {Micro.Format(Median(plain.Select(r => r.P50.TotalSeconds)) * TimeSpan.FromSeconds(1))} / {Micro.Format(Median(plain.Select(r => r.P99.TotalSeconds)) * TimeSpan.FromSeconds(1))} " +
                $"| {Micro.Format(Median(signed.Select(r => r.P50.TotalSeconds)) * TimeSpan.FromSeconds(1))} / {Micro.Format(Median(signed.Select(r => r.P99.TotalSeconds)) * TimeSpan.FromSeconds(1))} " +
                $"| {string.Join(" ", ratios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))} | {Median(ratios):F2} |");
        }

        await edge.StopAsync();
        await edge.DisposeAsync();
        await backendApp.StopAsync();
        await backendApp.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    private static async Task<Result> RunCellAsync(HttpClient client, string path, byte[] body, string signature, int concurrency, int seconds)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var latencies = new List<long>[concurrency];
        var failures = 0;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var own = latencies[worker] = [];
            while (Stopwatch.GetTimestamp() < deadline)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
                request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", signature);
                request.Headers.TryAddWithoutValidation("X-GitHub-Delivery", Guid.NewGuid().ToString());
                var begin = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                own.Add(Stopwatch.GetTimestamp() - begin);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} requests to {path} did not return 200");
        }

        var all = latencies.SelectMany(l => l).Order().ToArray();
        TimeSpan At(double q) => TimeSpan.FromSeconds(all[(int)Math.Min(all.Length - 1, q * all.Length)] / (double)Stopwatch.Frequency);
        return new Result(all.Length / elapsed.TotalSeconds, At(0.50), At(0.99));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record Result(double Throughput, TimeSpan P50, TimeSpan P99);
}
