using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Auditing;

public sealed class LocalAuditFileTests
{
    [Fact]
    public async Task Request_NoWriterConfigured_RecordAppendedToLocalFile()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));

        using var denied = await edge.Client.GetAsync("/orders/1");
        Assert.Equal(HttpStatusCode.BadRequest, denied.StatusCode);
        var requestId = Assert.Single(denied.Headers.GetValues("X-Request-Id"));

        var path = Path.Combine(edge.Directory, "audit-decisions.ndjson");
        JsonElement? found = null;
        for (var attempt = 0; attempt < 50 && found is null; attempt++)
        {
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    var record = JsonDocument.Parse(line).RootElement;
                    if (record.GetProperty("id").GetString() == requestId)
                    {
                        found = record;
                    }
                }
            }

            if (found is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(found);
        var data = found.Value.GetProperty("data");
        Assert.Equal("deny", data.GetProperty("decision").GetString());
        Assert.Equal(400, data.GetProperty("status").GetInt32());
        Assert.Equal("orders", data.GetProperty("route").GetString());
        Assert.Equal("http", data.GetProperty("scheme").GetString());
    }

    [Fact]
    public async Task SecurityEvents_NoWriterConfigured_BanApprovalAndReloadAppendedToLocalFile()
    {
        using var backend = Backend.Start();
        var config = Approvals.ApprovalEdge.Create(backend.Url);
        await using var edge = await EdgeHost.StartAsync(config);
        var path = Path.Combine(edge.Directory, "audit-decisions.ndjson");

        using (var banned = await edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"203.0.113.30\",\"for\":\"00:01:00\",\"reason\":\"local-file\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, banned.StatusCode);
        }

        var approvalId = await Approvals.ApprovalEdge.RequestApprovalAsync(edge.Client);
        var ban = await WaitForRecordAsync(path, r => Type(r) == "dev.edge.audit.threat.banned.v1");
        var requested = await WaitForRecordAsync(path, r => Type(r) == "dev.edge.audit.approval.requested.v1");
        var appliedBefore = (await ReadRecordsAsync(path)).Count(r => Type(r) == "dev.edge.audit.config.applied.v1");

        await edge.WriteConfigAsync(config.Replace("\"00:15:00\"", "\"00:10:00\"", StringComparison.Ordinal));
        var reloaded = await WaitForRecordAsync(path, r => Type(r) == "dev.edge.audit.config.applied.v1", skip: appliedBefore);

        Assert.Equal("203.0.113.30", ban.GetProperty("data").GetProperty("subject").GetProperty("banKey").GetString());
        Assert.Equal("203.0.113.30", ban.GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Equal("banned", ban.GetProperty("data").GetProperty("decision").GetString());
        Assert.Equal(approvalId, requested.GetProperty("data").GetProperty("attributes").GetProperty("approvalId").GetString());
        Assert.Equal("applied", reloaded.GetProperty("data").GetProperty("decision").GetString());
    }

    private static string? Type(JsonElement record) => record.GetProperty("type").GetString();

    private static async Task<JsonElement> WaitForRecordAsync(string path, Func<JsonElement, bool> match, int skip = 0)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var found = (await ReadRecordsAsync(path)).Where(match).Skip(skip).ToList();
            if (found.Count > 0)
            {
                return found[0];
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("no matching record in " + path);
    }

    private static async Task<List<JsonElement>> ReadRecordsAsync(string path)
    {
        var records = new List<JsonElement>();
        if (!File.Exists(path))
        {
            return records;
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync() is { Length: > 0 } line)
        {
            records.Add(JsonDocument.Parse(line).RootElement.Clone());
        }

        return records;
    }
}
