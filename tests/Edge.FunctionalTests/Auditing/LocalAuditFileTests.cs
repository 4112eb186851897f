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
    }
}
