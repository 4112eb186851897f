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
    /// for <paramref name="duration"/>. Returns every response and the wall time from the first send to the last answer.
    /// </summary>
    public static async Task<(List<Observed> Responses, TimeSpan Elapsed)> RunAsync(IReadOnlyList<EdgeHost> edges, int clientsPerEdge, TimeSpan duration, Func<int, string> user, string tenant = "acme")
    {
        var watch = Stopwatch.StartNew();
        var loops = edges.SelectMany(edge => Enumerable.Range(0, clientsPerEdge).Select(i => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var seen = new List<Observed>();
            var n = 0;
            while (watch.Elapsed < duration)
            {
                seen.Add(await SendAsync(client, tenant, user(i + n++)));
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

    public static string UniquePolicyName() => "load-" + Guid.NewGuid().ToString("N")[..12];
}
