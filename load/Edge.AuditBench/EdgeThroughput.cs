using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Edge.AuditBench;

/// <summary>
/// Edge throughput with audit on (spool + shipping to a writer process) vs off (no writer: decisions only logged),
/// measured in the same run against the same demo backend, alternating off/on to spread machine noise.
/// </summary>
internal static class EdgeThroughput
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Edge.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Run from the repository's build output.");
        }

        string Dll(string project) => Path.Combine(root.FullName, "src", project, "bin", "Release", "net10.0", project + ".dll");
        var directory = Directory.CreateTempSubdirectory("edge-audit-throughput-").FullName;
        var backendPort = Port();
        var writerPort = Port();
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, $$"""
            { "ReverseProxy": {
                "Routes": { "orders": { "ClusterId": "demo", "Match": { "Path": "/orders/{**rest}" },
                  "Transforms": [ { "EdgeTenant": "Header", "Name": "X-Tenant-ID", "Required": "true" } ] } },
                "Clusters": { "demo": { "Destinations": { "d1": { "Address": "http://127.0.0.1:{{backendPort}}/" } } } } } }
            """);

        using var backend = Start(Dll("Edge.DemoBackend"), "--urls", $"http://127.0.0.1:{backendPort}");
        using var writer = Start(Dll("Edge.AuditWriter"), "--urls", $"http://127.0.0.1:{writerPort}",
            $"--Writer:StorePath={Path.Combine(directory, "audit.db")}", $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
            "--Serilog:MinimumLevel:Default=Warning");
        await WaitAsync($"http://127.0.0.1:{writerPort}/audit/checkpoint");

        var results = new List<(bool Audit, double Rps)>();
        for (var round = 0; round < rounds; round++)
        {
            foreach (var audit in new[] { false, true })
            {
                var edgePort = Port();
                var managementPort = Port();
                var edgeArgs = new List<string>
                {
                    "--urls", $"http://127.0.0.1:{edgePort}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
                    $"--Edge:ProxyConfigPath={configPath}", "--Serilog:MinimumLevel:Default=Warning",
                };
                if (audit)
                {
                    edgeArgs.Add($"--Edge:Audit:WriterUrl=http://127.0.0.1:{writerPort}/");
                    edgeArgs.Add($"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}");
                }

                using var edge = Start(Dll("Edge.Proxy"), [.. edgeArgs]);
                await WaitAsync($"http://127.0.0.1:{managementPort}/healthz");
                var rps = await DriveAsync($"http://127.0.0.1:{edgePort}", seconds, concurrency);
                results.Add((audit, rps));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1} audit {(audit ? "on " : "off")}: {rps:F0} req/s"));
                edge.Kill();
                await edge.WaitForExitAsync();
            }
        }

        var off = results.Where(r => !r.Audit).Average(r => r.Rps);
        var on = results.Where(r => r.Audit).Average(r => r.Rps);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"edge throughput: audit off {off:F0} req/s, audit on {on:F0} req/s, ratio {on / off:F3} ({seconds} s x {rounds} rounds, {concurrency} connections)"));
        backend.Kill();
        writer.Kill();
        Directory.Delete(directory, recursive: true);
        return 0;
    }

    private static async Task<double> DriveAsync(string baseUrl, int seconds, int concurrency)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri(baseUrl) };
        client.DefaultRequestHeaders.Add("X-Tenant-ID", "acme");
        // Warm-up, not counted.
        await Loop(client, concurrency, TimeSpan.FromSeconds(2));
        var clock = Stopwatch.StartNew();
        var count = await Loop(client, concurrency, TimeSpan.FromSeconds(seconds));
        return count / clock.Elapsed.TotalSeconds;
    }

    private static async Task<long> Loop(HttpClient client, int concurrency, TimeSpan duration)
    {
        long completed = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var i = 0;
            while (Stopwatch.GetTimestamp() < end)
            {
                using var response = await client.GetAsync($"/orders/{worker}-{i++}");
                await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"unexpected {response.StatusCode}");
                }

                Interlocked.Increment(ref completed);
            }
        }));
        return completed;
    }

    private static Process Start(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitAsync(string url)
    {
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                using var response = await probe.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException(url);
    }

    private static int Port()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
