using System.Net;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Tests;
using Edge.Testing;
using Microsoft.AspNetCore.Http;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

public sealed class ApprovalNotifyAndAuditTests
{
    // The Standard Webhooks reference library's test secret (see the webhooks reference).
    private const string NotifySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    [Fact]
    public async Task NewApproval_NotifyUrl_ReceivesDeliveryThatVerifiesWithStandardWebhooks()
    {
        using var backend = Backend.Start();
        using var receiver = WireMockServer.Start();
        receiver.Given(Request.Create().UsingPost()).RespondWith(Response.Create().WithStatusCode(204));
        var variable = "EDGE_TEST_NOTIFY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, NotifySecret);
        try
        {
            await using var edge = await EdgeHost.StartAsync(Create(backend.Url, notify: new { Url = receiver.Urls[0] + "/hooks/approvals", Secret = "env:" + variable }));

            var id = await RequestApprovalAsync(edge.Client);
            var delivery = await WaitForSingleAsync(receiver);

            var headers = new HeaderDictionary();
            foreach (var (name, values) in delivery.Headers!)
            {
                headers[name] = values.ToArray();
            }

            var errors = new ConfigErrorList();
            var verifier = WebhookPolicy.TryCreate("receiver", new WebhookPolicyOptions { Scheme = "StandardWebhooks", Secrets = ["env:" + variable] }, errors)!.Verifier;
            var verification = verifier.Verify(headers, delivery.BodyAsBytes);
            var payload = JsonDocument.Parse(delivery.BodyAsBytes!).RootElement;
            var tamperedBody = delivery.BodyAsBytes!.ToArray();
            tamperedBody[^2] ^= 1;

            Assert.Empty(errors.Errors);
            Assert.True(verification.IsValid, verification.Reason);
            Assert.False(verifier.Verify(headers, tamperedBody).IsValid);
            Assert.Equal("/hooks/approvals", delivery.Path);
            Assert.Equal("msg_" + id, headers["webhook-id"].ToString());
            Assert.Equal("approval.requested", payload.GetProperty("type").GetString());
            Assert.Equal(id, payload.GetProperty("data").GetProperty("approvalId").GetString());
            Assert.Equal("alice", payload.GetProperty("data").GetProperty("requester").GetString());
            Assert.Equal("acme", payload.GetProperty("data").GetProperty("tenant").GetString());
            Assert.Equal($"/_edge/approvals/{id}", payload.GetProperty("data").GetProperty("approvalUrl").GetString());
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task NewApproval_NotifyUrlAsEnvReference_DeliveredToTheUrlItNames()
    {
        using var backend = Backend.Start();
        using var receiver = WireMockServer.Start();
        receiver.Given(Request.Create().UsingPost()).RespondWith(Response.Create().WithStatusCode(204));
        var secret = "EDGE_TEST_NOTIFY_" + Guid.NewGuid().ToString("N");
        var url = "EDGE_TEST_NOTIFY_URL_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(secret, NotifySecret);
        // A chat webhook's URL is its secret (Slack's /services/… path): kept out of proxy.json like the signing secret.
        Environment.SetEnvironmentVariable(url, receiver.Urls[0] + "/services/T0/B0/path-secret\n");
        try
        {
            await using var edge = await EdgeHost.StartAsync(Create(backend.Url, notify: new { Url = "env:" + url, Secret = "env:" + secret }));

            await RequestApprovalAsync(edge.Client);
            var delivery = await WaitForSingleAsync(receiver);

            Assert.Equal("/services/T0/B0/path-secret", delivery.Path);
        }
        finally
        {
            Environment.SetEnvironmentVariable(secret, null);
            Environment.SetEnvironmentVariable(url, null);
        }
    }

    [Fact]
    public async Task NewApproval_NotifyUrlDown_RequestStillAnswered428()
    {
        using var backend = Backend.Start();
        var variable = "EDGE_TEST_NOTIFY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, NotifySecret);
        try
        {
            // Nothing listens on this port: the delivery fails off the request path.
            await using var edge = await EdgeHost.StartAsync(Create(backend.Url, notify: new { Url = $"http://127.0.0.1:{FreePort.Next()}/", Secret = "env:" + variable }));

            using var response = await edge.Client.SendAsync(Payment());

            Assert.Equal((HttpStatusCode)428, response.StatusCode);
            Assert.Equal("approval_required", Code(await JsonAsync(response)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Retry_TokenPresentedInAnotherTenant_MismatchRecordNamesTheTenantItWasPresentedIn()
    {
        // The mismatch record names the presented request, but it kept the approval's tenant: a globex principal trying
        // acme's token was recorded under acme, where acme's auditors read globex's principal and an erasure of that
        // principal in globex never reached it.
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await using var edge = await StartShippingToAsync(backend, writer);
        var id = await RequestApprovalAsync(edge.Client);
        var token = await ApproveAsync(edge.Client, id);

        using var stolen = await edge.Client.SendAsync(Payment(key: GretaKey, token: token, tenant: "globex"));

        Assert.Equal(HttpStatusCode.Forbidden, stolen.StatusCode);
        Assert.Equal("approval_mismatch", Code(await JsonAsync(stolen)));
        var mismatch = Assert.Single(await WaitForApprovalEventsAsync(writer, 2), e => e.GetProperty("type").GetString() == AuditEventTypes.ApprovalMismatch);
        Assert.Equal(id, mismatch.GetProperty("data").GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal("globex", mismatch.GetProperty("tenant").GetString());
        Assert.Equal("greta", (await PrincipalsByIdAsync(writer))[mismatch.GetProperty("id").GetString()!]);
    }

    [Fact]
    public async Task Flow_AuditWriter_StoresApprovalEventsInOrderWithWhoApprovedWhat()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await using var edge = await StartShippingToAsync(backend, writer);

        var id = await RequestApprovalAsync(edge.Client);
        var token = await ApproveAsync(edge.Client, id);
        using (var mismatch = await edge.Client.SendAsync(Payment(token: token, body: "{}")))
        using (var retry = await edge.Client.SendAsync(Payment(token: token)))
        using (var again = await edge.Client.SendAsync(Payment(token: token)))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }

        var rejected = await RequestApprovalAsync(edge.Client, body: "{\"amount\":3}");
        using (var reject = await edge.Client.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{rejected}/reject", BobKey)))
        {
            Assert.Equal(HttpStatusCode.OK, reject.StatusCode);
        }

        var events = await WaitForApprovalEventsAsync(writer, 6);

        Assert.Equal(
            new[] { AuditEventTypes.ApprovalRequested, AuditEventTypes.ApprovalApproved, AuditEventTypes.ApprovalMismatch, AuditEventTypes.ApprovalConsumed,
             AuditEventTypes.ApprovalInvalid, AuditEventTypes.ApprovalRequested, AuditEventTypes.ApprovalRejected },
            events.Select(e => e.GetProperty("type").GetString()!).ToArray());
        var approved = events[1].GetProperty("data");
        var consumed = events[3].GetProperty("data");
        var principals = await PrincipalsByIdAsync(writer);
        Assert.Equal(id, approved.GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal(id, consumed.GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal("alice", principals[events[0].GetProperty("id").GetString()!]);
        Assert.Equal("bob", principals[events[1].GetProperty("id").GetString()!]);
        Assert.Equal("alice", principals[events[3].GetProperty("id").GetString()!]);
        Assert.Equal("bob", principals[events[6].GetProperty("id").GetString()!]);
        Assert.Equal("payments", consumed.GetProperty("route").GetString());
        Assert.Equal(events[0].GetProperty("data").GetProperty("attributes").GetProperty("requestHash").GetString(),
            consumed.GetProperty("attributes").GetProperty("requestHash").GetString());
        Assert.NotEqual(consumed.GetProperty("attributes").GetProperty("requestHash").GetString(),
            events[2].GetProperty("data").GetProperty("attributes").GetProperty("requestHash").GetString());
        Assert.Equal("acme", events[0].GetProperty("tenant").GetString());
        Assert.Equal(rejected, events[6].GetProperty("data").GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.DoesNotContain(events, e => e.GetRawText().Contains(token[(token.IndexOf('.', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Approve_SelfApprovalAndSecondDecision_RefusalsAreAuditedWithTheirCodes()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
        });

        var id = await RequestApprovalAsync(edge.Client);
        using (var self = await edge.Client.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", AliceKey)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, self.StatusCode);
        }

        await ApproveAsync(edge.Client, id);
        using (var second = await edge.Client.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", BobKey)))
        {
            Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        }

        // Before, both refusals reached only the caller: the trail showed no attempt by the requester to approve their own request.
        var events = await WaitForApprovalEventsAsync(writer, 3);
        var principals = await PrincipalsByIdAsync(writer);

        Assert.Equal(
            new[] { AuditEventTypes.ApprovalRequested, AuditEventTypes.ApprovalRefused, AuditEventTypes.ApprovalApproved, AuditEventTypes.ApprovalRefused },
            events.Select(e => e.GetProperty("type").GetString()!).ToArray());
        Assert.Equal("approval_self", events[1].GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("refused", events[1].GetProperty("data").GetProperty("decision").GetString());
        Assert.Equal(id, events[1].GetProperty("data").GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal("alice", principals[events[1].GetProperty("id").GetString()!]);
        Assert.Equal("approval_decided", events[3].GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("bob", principals[events[3].GetProperty("id").GetString()!]);
    }

    [Fact]
    public async Task Erasure_OfTheRequester_NameReadableInNoApprovalRecordExportOrStoreFile()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
        });
        var id = await RequestApprovalAsync(edge.Client);
        var token = await ApproveAsync(edge.Client, id);
        string retryId;
        using (var retry = await edge.Client.SendAsync(Payment(token: token)))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            retryId = retry.Headers.GetValues("X-Request-Id").Single();
        }

        // The retry's own record is the last one the flow makes: erase only once it is stored (a record delivered after
        // an erasure gets a new key, see audit.md).
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        for (var attempt = 0; attempt < 100 && (await dpo.GetStringAsync($"/audit/records?id={retryId}")).Contains("\"records\":[]", StringComparison.Ordinal); attempt++)
        {
            await Task.Delay(100);
        }


        using var erasure = await dpo.PostAsync("/audit/erasure", new StringContent("{\"subject\":\"alice\"}", System.Text.Encoding.UTF8, "application/json"));
        var export = await dpo.GetStringAsync("/audit/export?format=ndjson");
        var records = await dpo.GetStringAsync("/audit/records?limit=1000");
        var csv = await dpo.GetStringAsync("/audit/export?format=csv");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var storeFiles = new[] { writer.StorePath, writer.StorePath + "-wal" }.Where(File.Exists).Select(File.ReadAllBytes).ToList();

        Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        Assert.Contains("approval.approved", export, StringComparison.Ordinal);
        Assert.Contains("\"bob\"", records, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", export, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", records, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", csv, StringComparison.Ordinal);
        Assert.All(storeFiles, bytes => Assert.Equal(-1, bytes.AsSpan().IndexOf("alice"u8)));
    }

    [Fact]
    public async Task Flow_AuditWriter_RequestHashInRecordsIsKeyedPerApprovalNotTheBareFingerprint()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
        });
        var first = await RequestApprovalAsync(edge.Client);
        var second = await RequestApprovalAsync(edge.Client, body: "{\"amount\":3}");
        string bare;
        using (var shown = await edge.Client.SendAsync(Api(HttpMethod.Get, $"/_edge/approvals/{first}", BobKey)))
        {
            bare = JsonDocument.Parse(await shown.Content.ReadAsStringAsync()).RootElement.GetProperty("requestHash").GetString()!;
        }

        var token = await ApproveAsync(edge.Client, first);
        using (var retry = await edge.Client.SendAsync(Payment(token: token)))
        {
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        }

        var events = await WaitForApprovalEventsAsync(writer, 3);
        string HashOf(JsonElement e) => e.GetProperty("data").GetProperty("attributes").GetProperty("requestHash").GetString()!;
        string ApprovalOf(JsonElement e) => e.GetProperty("data").GetProperty("attributes").GetProperty("approvalId").GetString()!;
        var ofFirst = events.Where(e => ApprovalOf(e) == first).Select(HashOf).ToList();
        var ofSecond = events.Where(e => ApprovalOf(e) == second).Select(HashOf).ToList();

        Assert.Equal(64, bare.Length);
        Assert.Equal(3, ofFirst.Count);
        Assert.Single(ofFirst.Distinct());
        Assert.Equal(64, ofFirst[0].Length);
        Assert.NotEqual(bare, ofFirst[0]);
        Assert.NotEqual(ofFirst[0], Assert.Single(ofSecond));
        Assert.DoesNotContain(events, e => e.GetRawText().Contains(bare, StringComparison.Ordinal));
    }

    /// <summary>Each record's principal as the writer's read API shows it (decrypted for an all-tenants auditor).</summary>
    private static async Task<Dictionary<string, string?>> PrincipalsByIdAsync(WriterFixture writer)
    {
        using var client = writer.Client(WriterFixture.GlobalAuditorKey);
        using var page = JsonDocument.Parse(await client.GetStringAsync("/audit/records?limit=1000"));
        return page.RootElement.GetProperty("records").EnumerateArray()
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("principal").GetString());
    }

    private static async Task<WireMock.IRequestMessage> WaitForSingleAsync(WireMockServer receiver)
    {
        for (var attempt = 0; attempt < 100 && !receiver.LogEntries.Any(); attempt++)
        {
            await Task.Delay(100);
        }

        return Assert.Single(receiver.LogEntries).RequestMessage!;
    }

    private static async Task<List<JsonElement>> WaitForApprovalEventsAsync(WriterFixture writer, int minimum)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using (var store = AuditStore.OpenReadOnly(writer.StorePath))
            {
                var events = store.Export(new RecordQuery())
                    .OrderBy(r => r.Index)
                    .Select(r => JsonDocument.Parse(r.Leaf).RootElement.Clone())
                    .Where(r => r.GetProperty("type").GetString()!.StartsWith("dev.edge.audit.approval.", StringComparison.Ordinal))
                    .ToList();
                if (events.Count > minimum)
                {
                    return events;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The writer did not receive the approval events within 10 s.");
    }

    /// <summary>The approvals edge, shipping its records to <paramref name="writer"/>.</summary>
    private static Task<EdgeHost> StartShippingToAsync(Backend backend, WriterFixture writer) =>
        EdgeHost.StartAsync(Create(backend.Url), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
            ["Edge:InstanceId"] = "edge-approvals",
        });
}
