using System.Diagnostics;
using System.Net;
using Edge.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>Sustained closed-loop load from parallel clients against real edges, and what each response said.</summary>
internal static class RateLimitLoad
{
    public sealed record Observed(HttpStatusCode Status, string? Limit, string? Remaining, string? Code);

    /// <summary>
    /// <paramref name="clientsPerEdge"/> loops per edge, each with its own HttpClient, sending as fast as answers come
    /// for <paramref name="duration"/>, and on until at least <paramref name="minimumResponses"/> answers came (at most
    /// 30 s in all: on a starved shared host a few seconds sometimes carried fewer requests than the limit, and the test
    /// then proved nothing). Each edge first serves one request of its own (another bucket) so that the measured load
    /// does not start with the edge's first-request costs. Returns every response of the measured load and the wall time
    /// from its first send to the last answer.
    /// </summary>
    public static async Task<(List<Observed> Responses, TimeSpan Elapsed)> RunAsync(
        IReadOnlyList<EdgeHost> edges, int clientsPerEdge, TimeSpan duration, Func<int, string> user, string tenant = "acme", int minimumResponses = 0)
    {
        foreach (var edge in edges)
        {
            await SendAsync(edge.Client, tenant, "~warm-up");
        }

        var maximum = TimeSpan.FromSeconds(30);
        var answered = 0;
        var watch = Stopwatch.StartNew();
        var loops = edges.SelectMany(edge => Enumerable.Range(0, clientsPerEdge).Select(i => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var seen = new List<Observed>();
            var n = 0;
            while (watch.Elapsed < duration || (Volatile.Read(ref answered) < minimumResponses && watch.Elapsed < maximum))
            {
                seen.Add(await SendAsync(client, tenant, user(i + n++)));
                Interlocked.Increment(ref answered);
            }

            return seen;
        }))).ToList();
        var all = (await Task.WhenAll(loops)).SelectMany(l => l).ToList();
        return (all, watch.Elapsed);
    }

    public static async Task<Observed> SendAsync(HttpClient client, string tenant, string user)
    {
        using var response = await client.SendAsync(RateLimitRoutes.Get(tenant, user));
        string? code = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            code = problem.RootElement.GetProperty("code").GetString();
        }

        return new Observed(
            response.StatusCode,
            RateLimitRoutes.Header(response, "X-RateLimit-Limit"),
            RateLimitRoutes.Header(response, "X-RateLimit-Remaining"),
            code);
    }

    /// <summary>
    /// An edge whose one route limits by tenant and X-User with <paramref name="policy"/> (an anonymous object) named
    /// <paramref name="name"/>. Metrics are per process (every edge of the test run shares the meter), so tests that read
    /// /metrics use a policy name of their own.
    /// </summary>
    public static Task<EdgeHost> StartEdgeAsync(string backendUrl, string redis, object policy, string name = "p")
    {
        var values = policy.GetType().GetProperties().ToDictionary(p => p.Name, p => p.GetValue(policy));
        values.TryAdd("Key", "{tenant}:{header:X-User}");
        // With less than the whole limit locally, a fallback decision is visible in X-RateLimit-Limit.
        values.TryAdd("LocalShare", 0.5);
        return EdgeHost.StartAsync(
            RateLimitRoutes.Config(backendUrl, new Dictionary<string, object> { [name] = values }, name),
            new Dictionary<string, string?> { ["Edge:Redis"] = redis });
    }

    public static async Task<string> MetricsAsync(EdgeHost edge) => await edge.Management.GetStringAsync("/metrics");

    /// <summary>The fallback counter lines of one policy.</summary>
    public static async Task<List<string>> FallbackLinesAsync(EdgeHost edge, string policy) =>
        [.. (await MetricsAsync(edge)).Split('\n').Where(l => l.StartsWith("edge_ratelimit_fallbacks_total{", StringComparison.Ordinal) && l.Contains($"policy=\"{policy}\"", StringComparison.Ordinal))];

    /// <summary>
    /// The 503s by problem code and every edge's fallback counter lines of <paramref name="policy"/>, read before a test
    /// asserts "no 503, no fallback", so that a failure names the reasons. Empty lists when there were none.
    /// </summary>
    public static async Task<(List<string> Unavailable, List<string> Fallbacks, string Report)> FallbackReportAsync(IReadOnlyList<EdgeHost> edges, string policy, IEnumerable<Observed> responses)
    {
        var fallbacks = new List<string>();
        for (var i = 0; i < edges.Count; i++)
        {
            fallbacks.AddRange((await FallbackLinesAsync(edges[i], policy)).Select(l => $"edge {i}: {l}"));
        }

        var unavailable = responses.Where(r => r.Status == HttpStatusCode.ServiceUnavailable).GroupBy(r => r.Code).Select(g => $"{g.Count()}x {g.Key}").ToList();
        return (unavailable, fallbacks, $"503s: [{string.Join(", ", unavailable)}]; fallbacks: [{string.Join("; ", fallbacks)}]");
    }

    /// <summary>
    /// A counter of one policy by one label (e.g. <c>edge_ratelimit_redis_calls_total</c> by <c>result</c>), summed per
    /// label value. The meter is per process, so every edge of a test reports the same totals.
    /// </summary>
    public static async Task<Dictionary<string, long>> CounterByAsync(EdgeHost edge, string counter, string policy, string label)
    {
        var totals = new Dictionary<string, long>();
        foreach (var line in (await MetricsAsync(edge)).Split('\n'))
        {
            if (!line.StartsWith(counter + "{", StringComparison.Ordinal) || !line.Contains($"policy=\"{policy}\"", StringComparison.Ordinal))
            {
                continue;
            }

            var start = line.IndexOf($"{label}=\"", StringComparison.Ordinal) + label.Length + 2;
            var value = line[start..line.IndexOf('"', start)];
            totals[value] = totals.GetValueOrDefault(value) + (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        return totals;
    }

    public static string UniquePolicyName() => "load-" + Guid.NewGuid().ToString("N")[..12];
}
