using System.Net;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.Pipeline;

public sealed class RoutingFailureTests
{
    [Fact]
    public async Task Request_RouteTableCannotBeBuilt_Answers500ProblemAndAuditsIt()
    {
        // Stands for any value ASP.NET Core's matcher throws on while building the route table (before proxy.json
        // validation knew them, an unparsable Match.Hosts entry or an unknown path constraint): an empty 500, no record.
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
            configure: builder => builder.Services.AddSingleton<MatcherPolicy, ThrowingMatcherPolicy>());

        using var response = await edge.Client.GetAsync("/r/x");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("edge_routing_error", problem.RootElement.GetProperty("code").GetString());
        Assert.DoesNotContain(ThrowingMatcherPolicy.Message, problem.RootElement.GetRawText(), StringComparison.Ordinal);
        Assert.Empty(backend.Received);
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        var audit = await edge.LocalAuditDataAsync(requestId);
        Assert.Equal((500, "deny", "edge_routing_error"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));

        using var management = await edge.Management.GetAsync("/edge/status");
        Assert.Equal(HttpStatusCode.InternalServerError, management.StatusCode);
        Assert.Equal("application/problem+json", management.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Request_RouteTableCannotBeBuiltManyRequests_OneErrorLineNotOnePerRequest()
    {
        // Every request of every client throws while the table cannot be built: each wrote event 1004 with its stack trace.
        var log = LogFile.NewPath();
        var settings = LogFile.Settings(log);
        using var backend = Backend.Start();
        try
        {
            // Frozen: every request falls in the same minute of the log window.
            await using (var edge = await EdgeHost.StartAsync(
                ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
                settings, new FakeTimeProvider(DateTimeOffset.UtcNow), builder => builder.Services.AddSingleton<MatcherPolicy, ThrowingMatcherPolicy>()))
            {
                for (var i = 0; i < 10; i++)
                {
                    using var response = await edge.Client.GetAsync($"/r/{i}");
                    Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
                }
            }

            // The file sink may still be writing when the host is gone (a loaded CI host read the file before the line).
            string[] lines;
            var deadline = DateTime.UtcNow.AddSeconds(15);
            do
            {
                await Task.Delay(50);
                using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                lines = new StreamReader(stream).ReadToEnd().Split('\n');
            }
            while (!lines.Any(IsRoutingError) && DateTime.UtcNow < deadline);

            Assert.Single(lines, IsRoutingError);
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static bool IsRoutingError(string line) => line.StartsWith("Edge.Proxy.Pipeline.UnroutedRequests|Error|", StringComparison.Ordinal);

    private sealed class ThrowingMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
    {
        public const string Message = "the route table cannot be built";

        public override int Order => 0;

        public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => throw new InvalidOperationException(Message);

        public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates) => Task.CompletedTask;
    }
}
