using System.Net;
using System.Text.Json;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>An Edge policy driving ASP.NET Core's own rate-limiting middleware on a real Kestrel endpoint.</summary>
public sealed class AspNetRateLimiterPolicyTests
{
    [Fact]
    public async Task AddEdgePolicy_AspNetCoreMiddleware_AdmitsLimitThen429ProblemWithRetryAfter()
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddMetrics();
        // A frozen clock: with the real one, a slow start (JIT, a busy machine) refills part of a token between the
        // first and the third request and Retry-After drops to 299.
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow));
        builder.Services.AddSingleton(new EdgeRedis(null));
        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.AddSingleton(new EdgeHostOptions());
        var state = new EdgeConfigState();
        state.Applied(
            new EdgeProxyConfig([], [], EdgeSection.Empty.With(RateLimitingSection.Descriptor, new Dictionary<string, RateLimitPolicyOptions> { ["per-user"] = new() { Limit = 2, Window = TimeSpan.FromMinutes(10), Key = "{header:X-User}" } }), new string('0', 64), 1),
            [],
            DateTimeOffset.UtcNow);
        builder.Services.AddSingleton(state);
        builder.Services.AddEdgeRateLimiting();
        builder.Services.AddRateLimiter(options => options.AddEdgePolicy("per-user"));
        await using var app = builder.Build();
        app.UseRateLimiter();
        app.MapGet("/x", () => "ok").RequireRateLimiting("per-user");
        await app.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 4; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/x");
            request.Headers.Add("X-User", "alice");
            var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
            refused = response;
        }

        using var otherUser = new HttpRequestMessage(HttpMethod.Get, "/x");
        otherUser.Headers.Add("X-User", "bob");
        using var bob = await client.SendAsync(otherUser);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal("300", RateLimitRoutes.Header(refused!, "Retry-After"));
        Assert.Equal("0", RateLimitRoutes.Header(refused!, "X-RateLimit-Remaining"));
        using var problem = JsonDocument.Parse(await refused!.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        refused.Dispose();
    }
}
