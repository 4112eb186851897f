using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A backend that closes its connection in the middle of a response body, after the status and headers went to the
/// client. The request's record was written when the response started, so it says 200; the audit trail must also say
/// that the body was cut short.
/// </summary>
public sealed class BackendBreakTests : RawBackendEdgeTests
{
    [Fact]
    public async Task BackendClosesMidBody_RequestRecordKeepsStatusAndAnIncompleteRecordNamesTheRequest()
    {
        var complete = await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/complete HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        try
        {
            await RawHttp.SendAsync(Edge.ProxyPort, "GET /legacy/broken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        }
        catch (IOException)
        {
            // The edge resets the client's connection when the backend's body breaks off: the client sees a broken body.
        }

        var (requests, incomplete) = await RecordsAsync(r => r.Any(e => e.GetProperty("type").GetString() == "dev.edge.audit.response.incomplete.v1"));
        var broken = requests.Single(r => r.GetProperty("data").GetProperty("path").GetString() == "/legacy/broken");
        var record = Assert.Single(incomplete).GetProperty("data");

        Assert.Equal(200, complete.Status);
        Assert.Equal(200, broken.GetProperty("data").GetProperty("status").GetInt32());
        Assert.Equal(("incomplete", "backend_response_incomplete", "legacy"), (record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString(), record.GetProperty("route").GetString()));
        var attributes = record.GetProperty("attributes");
        Assert.Equal(broken.GetProperty("id").GetString(), attributes.GetProperty("requestId").GetString());
        Assert.Equal(("200", "ResponseBodyDestination"), (attributes.GetProperty("status").GetString(), attributes.GetProperty("error").GetString()));
    }

    private async Task<(List<JsonElement> Requests, List<JsonElement> Incomplete)> RecordsAsync(Func<List<JsonElement>, bool> done)
    {
        var path = Path.Combine(Edge.Directory, "audit-decisions.ndjson");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        List<JsonElement> records = [];
        while (DateTime.UtcNow < deadline)
        {
            records = [];
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.EndsWith('}'))
                    {
                        records.Add(JsonDocument.Parse(line).RootElement.Clone());
                    }
                }
            }

            if (done(records) && records.Count(r => r.GetProperty("type").GetString() == "dev.edge.audit.request.v1") >= 2)
            {
                break;
            }

            await Task.Delay(100);
        }

        return (records.Where(r => r.GetProperty("type").GetString() == "dev.edge.audit.request.v1").ToList(),
            records.Where(r => r.GetProperty("type").GetString() == "dev.edge.audit.response.incomplete.v1").ToList());
    }

    protected override async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            var broken = Encoding.ASCII.GetString(buffer, 0, read).StartsWith("GET /legacy/broken ", StringComparison.Ordinal);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"), cancellationToken);
            await stream.WriteAsync(new byte[broken ? 50_000 : 100_000], cancellationToken);
            await stream.FlushAsync(cancellationToken);
            if (broken)
            {
                // A reset, as a crashing backend process gives.
                client.Client.LingerState = new LingerOption(true, 0);
            }
        }
    }
}
