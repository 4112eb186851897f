using System.Net;
using Edge.Proxy.Approvals;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

/// <summary>The in-process approval store at its capacity (2 here, 10 000 shipped), on a real edge.</summary>
public sealed class ApprovalStoreCapacityTests
{
    [Fact]
    public async Task Request_StoreFullOfLiveApprovals_503StoreFullAndTheApprovedTokenStillWorks()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url, ttl: "00:10:00"),
            configure: builder => builder.Services.AddSingleton<IApprovalStore>(new InProcessApprovalStore(capacity: 2)));
        var id = await RequestApprovalAsync(edge.Client);
        var token = await ApproveAsync(edge.Client, id);
        using (var second = await edge.Client.SendAsync(Payment(body: """{"amount":2}""")))
        {
            Assert.Equal((HttpStatusCode)428, second.StatusCode);
        }

        using var flooded = await edge.Client.SendAsync(Payment(body: """{"amount":3}"""));
        var problem = await JsonAsync(flooded);
        using var approved = await edge.Client.SendAsync(Payment(token: token));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, flooded.StatusCode);
        Assert.Equal("application/problem+json", flooded.Content.Headers.ContentType?.MediaType);
        Assert.Equal("approval_store_full", Code(problem));
        Assert.Equal("30", flooded.Headers.GetValues("Retry-After").Single());
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Single(backend.Received);
    }
}
