using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A client that goes away while the edge waits for a slow legacy backend (or while its upload is still streaming to
/// it) gets no answer. Its record must say so (499, reason client_aborted), not the 400 YARP sets for an answer nobody
/// receives. One that leaves in the middle of a response body got the status and part of the body: a second record
/// says so.
/// </summary>
public sealed class ClientAbortTests : IAsyncLifetime
{
    private HoldingBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = new HoldingBackend(AnswerAsync);
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["legacy"] = ProxyJson.Route("/legacy/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData("wait", "GET /legacy/wait HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n")]
    [InlineData("upgrade", "GET /legacy/upgrade HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")]
    [InlineData("upload", "POST /legacy/upload HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nContent-Length: 100000\r\n\r\npart of the body")]
    public async Task ClientClosesWhileBackendIsCalled_AuditedAs499ClientAbortedNotA400(string name, string request)
    {
        var arrived = _backend.ArrivedAsync("/legacy/" + name);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, _edge.ProxyPort);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request));
            // The steps have run and the backend holds the request; then the client gives up.
            await arrived;
        }

        var audit = await _edge.LocalAuditDataAsync(await arrived);

        var reason = audit.TryGetProperty("reason", out var value) ? value.GetString() : null;

        Assert.Equal((499, "allow", "client_aborted"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), reason));
    }

    [Fact]
    public async Task ClientClosesMidDownload_IncompleteRecordNamesTheRequestAndTheClient()
    {
        string requestId;
        int status;
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, _edge.ProxyPort);
            var stream = client.GetStream();
            await stream.WriteAsync("GET /legacy/download HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n"u8.ToArray());
            var head = "";
            var buffer = new byte[4096];
            while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer);
                Assert.NotEqual(0, read);
                head += Encoding.Latin1.GetString(buffer, 0, read);
            }

            status = int.Parse(head.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
            requestId = head.Split("\r\n").Single(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))["X-Request-Id:".Length..].Trim();

            // The status and the first bytes arrived; the user cancels the rest of the download.
        }

        var incomplete = await IncompleteRecordAsync(requestId);
        var request = await _edge.LocalAuditDataAsync(requestId);

        Assert.Equal((200, 200), (status, request.GetProperty("status").GetInt32()));
        Assert.Equal(("incomplete", "client_aborted"), (incomplete.GetProperty("decision").GetString(), incomplete.GetProperty("reason").GetString()));
        Assert.Equal("200", incomplete.GetProperty("attributes").GetProperty("status").GetString());
    }

    private async Task<JsonElement> IncompleteRecordAsync(string requestId)
    {
        var path = Path.Combine(_edge.Directory, "audit-decisions.ndjson");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path))
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(file);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (!line.EndsWith('}') || !line.Contains("dev.edge.audit.response.incomplete.v1", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    using var record = JsonDocument.Parse(line);
                    var data = record.RootElement.GetProperty("data");
                    if (data.GetProperty("attributes").GetProperty("requestId").GetString() == requestId)
                    {
                        return data.Clone();
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no incomplete-response record for {requestId} within 15 s");
    }

    /// <summary>Never answers (a legacy backend busy for minutes), or for a download never finishes its body.</summary>
    private static async Task AnswerAsync(string path, NetworkStream stream, CancellationToken cancellationToken)
    {
        if (path == "/legacy/download")
        {
            // A large file whose first part goes out at once; the rest would follow slowly.
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"u8.ToArray(), cancellationToken);
            await stream.WriteAsync(new byte[1000], cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
    }
}
