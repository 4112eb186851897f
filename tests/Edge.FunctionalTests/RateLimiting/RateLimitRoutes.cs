using Edge.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>proxy.json for the rate-limit tests: tenant from X-Tenant-ID, then one EdgeRateLimit step.</summary>
internal static class RateLimitRoutes
{
    public static string Config(string backendUrl, Dictionary<string, object> policies, string policy = "p") =>
        ProxyJson.Create(
            backendUrl,
            new Dictionary<string, object>
            {
                ["limited"] = ProxyJson.Route(
                    "/limited/{**rest}",
                    new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                    new Dictionary<string, string> { ["EdgeRateLimit"] = policy }),
            },
            new { RateLimits = policies });

    public static HttpRequestMessage Get(string tenant = "acme", string? user = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/limited/x");
        request.Headers.Add("X-Tenant-ID", tenant);
        if (user is not null)
        {
            request.Headers.Add("X-User", user);
        }

        return request;
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    public static async Task<T> WaitUntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached within 20 s: {what}");
            }

            await Task.Delay(100);
        }
    }
}
