using System.Net;
using Edge.Testing;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

/// <summary>Two edge instances sharing one real redis-server: an approval made on one is usable once on any.</summary>
public sealed class ApprovalRedisTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Flow_RequestOnAApproveThroughBRetryOnA_SecondUseOnBRefused()
    {
        using var backend = Backend.Start();
        var (first, second) = await StartPairAsync(Create(backend.Url));
        await using var a = first;
        await using var b = second;

        var id = await RequestApprovalAsync(a.Client);
        using var listed = await b.Client.SendAsync(Api(HttpMethod.Get, "/_edge/approvals?status=pending", BobKey));
        var token = await ApproveAsync(b.Client, id);
        using var mismatch = await a.Client.SendAsync(Payment(token: token, body: "{\"amount\":1}"));
        using var retry = await a.Client.SendAsync(Payment(token: token));
        using var secondUse = await b.Client.SendAsync(Payment(token: token));

        Assert.Contains((await JsonAsync(listed)).GetProperty("approvals").EnumerateArray(), item => item.GetProperty("id").GetString() == id);
        Assert.Equal(HttpStatusCode.Forbidden, mismatch.StatusCode);
        Assert.Equal("approval_mismatch", Code(await JsonAsync(mismatch)));
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, secondUse.StatusCode);
        Assert.Equal("approval_invalid", Code(await JsonAsync(secondUse)));
        Assert.Single(backend.Received);
        using var connection = redis.Server.Connect();
        var stored = await connection.GetDatabase().HashGetAllAsync($"edge:approval:{{{id}}}");
        Assert.Contains(stored, field => field.Name == "status" && field.Value == "consumed");
        // The key of the request hash in the audit records is kept with the approval, so every instance keys it alike.
        Assert.Equal(32, Convert.FromBase64String(stored.Single(field => field.Name == "auditKey").Value.ToString()).Length);
        var secret = token[(token.IndexOf('.', StringComparison.Ordinal) + 1)..];
        Assert.DoesNotContain(stored, field => field.Value.ToString().Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ParallelRetries_OneTokenOnTwoInstances_ForwardExactlyOneRequest()
    {
        using var backend = Backend.Start();
        var (first, second) = await StartPairAsync(Create(backend.Url));
        await using var a = first;
        await using var b = second;
        var id = await RequestApprovalAsync(a.Client);
        var token = await ApproveAsync(b.Client, id);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? a : b).Client.SendAsync(Payment(token: token));
            return (response.StatusCode, Code: response.IsSuccessStatusCode ? null : Code(await JsonAsync(response)));
        }));

        Assert.Equal(1, statuses.Count(s => s.StatusCode == HttpStatusCode.OK));
        Assert.All(statuses.Where(s => s.StatusCode != HttpStatusCode.OK), s => Assert.Equal("approval_invalid", s.Code));
        Assert.Single(backend.Received);
    }

    [Fact]
    public async Task Retry_ShortTtlAgainstRedis_403ApprovalExpired()
    {
        using var backend = Backend.Start();
        // Three seconds leave room to approve on a loaded machine; the retry then waits for the token's own expiry.
        var (first, second) = await StartPairAsync(Create(backend.Url, ttl: "00:00:03"));
        await using var a = first;
        await using var b = second;
        var id = await RequestApprovalAsync(a.Client);
        using var approve = await b.Client.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", BobKey));
        var approved = await JsonAsync(approve);
        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        var token = approved.GetProperty("token").GetString()!;
        var expiresAt = DateTimeOffset.Parse(approved.GetProperty("expiresAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        var wait = expiresAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200);
        await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        using var retry = await a.Client.SendAsync(Payment(token: token));

        Assert.Equal(HttpStatusCode.Forbidden, retry.StatusCode);
        Assert.Equal("approval_expired", Code(await JsonAsync(retry)));
        Assert.Empty(backend.Received);
    }

    [Fact]
    public async Task Request_RedisDown_503ApprovalStoreUnavailable()
    {
        using var backend = Backend.Start();
        await using var server = await RedisServer.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?> { ["Edge:Redis"] = server.ConnectionString });
        await WaitUntilReadyAsync(edge);
        server.Kill();

        using var response = await edge.Client.SendAsync(Payment());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("approval_store_unavailable", Code(await JsonAsync(response)));
        Assert.Empty(backend.Received);
    }

    [Fact]
    public async Task Retry_RedisRefusesTheReadAfterTheConsume_ForwardedAndConsumedRecorded()
    {
        // The token was checked and consumed in one script, then the approval was read back in a second command for the
        // audit record. A Redis failing between the two (a failover, a timeout) answered 503 "retry later" for a token
        // already used up: the approved request was never forwarded, its retry was approval_invalid, and no consumed
        // record was written. A real server whose user may no longer run HGETALL makes that second command fail.
        using var backend = Backend.Start();
        await using var server = await RedisServer.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?> { ["Edge:Redis"] = server.ConnectionString });
        await WaitUntilReadyAsync(edge);
        var id = await RequestApprovalAsync(edge.Client);
        var token = await ApproveAsync(edge.Client, id);
        using (var admin = server.Connect())
        {
            await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "default", "-hgetall");
        }

        using var retry = await edge.Client.SendAsync(Payment(token: token));

        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Single(backend.Received);
        var consumed = await edge.LocalAuditDataWhereAsync(data => data.TryGetProperty("step", out var step) && step.GetString() == "EdgeApproval"
            && data.GetProperty("decision").GetString() == "consumed");
        Assert.Equal(id, consumed.GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal("payments", consumed.GetProperty("route").GetString());
    }

    private async Task<(EdgeHost A, EdgeHost B)> StartPairAsync(string json)
    {
        var settings = new Dictionary<string, string?> { ["Edge:Redis"] = redis.Server.ConnectionString };
        var a = await EdgeHost.StartAsync(json, settings);
        var b = await EdgeHost.StartAsync(json, settings);
        await WaitUntilReadyAsync(a);
        await WaitUntilReadyAsync(b);
        return (a, b);
    }

    private static Task WaitUntilReadyAsync(EdgeHost edge) => edge.WaitUntilRedisConnectedAsync();
}
