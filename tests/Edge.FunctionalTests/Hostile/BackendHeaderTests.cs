using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A legacy backend that writes raw bytes into a response header value (a UTF-8 file name in
/// <c>Content-Disposition</c>, a Latin-1 byte, a control character). Kestrel's ASCII-only response writer turned the
/// whole answer into <c>502 backend_unavailable</c>; the edge now passes such bytes on unchanged, as nginx and Envoy do,
/// and answers a control character with <c>502 backend_response_invalid</c>, which its record says.
/// </summary>
public sealed class BackendHeaderTests : IAsyncLifetime
{
    private static readonly byte[] Utf8Name = Encoding.UTF8.GetBytes("attachment; filename=\"caf\u00e9 \u2615.pdf\"");

    private readonly TcpListener _backend = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend.Start();
        _ = ServeAsync(_stop.Token);
        var port = ((IPEndPoint)_backend.LocalEndpoint).Port;
        _edge = await EdgeHost.StartAsync(ProxyJson.Create($"http://127.0.0.1:{port}/", new Dictionary<string, object> { ["legacy"] = ProxyJson.Route("/legacy/{**rest}") }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _stop.CancelAsync();
        _backend.Stop();
        _stop.Dispose();
    }

    [Theory]
    [InlineData("/legacy/utf8")]
    [InlineData("/legacy/latin1")]
    public async Task BackendHeaderWithNonAsciiBytes_ReachesTheClientByteForByte(string path)
    {
        var response = await SendAsync(path);

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.Latin1.GetString(response), StringComparison.Ordinal);
        var expected = path.EndsWith("utf8", StringComparison.Ordinal) ? Utf8Name : [(byte)'c', (byte)'a', (byte)'f', 0xE9];
        Assert.True(response.AsSpan().IndexOf([.. "\r\nX-Back: "u8, .. expected, .. "\r\n"u8]) >= 0, Encoding.Latin1.GetString(response));
    }

    [Fact]
    public async Task BackendHeaderWithControlCharacter_Returns502BackendResponseInvalidAndTheRecordSaysIt()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "GET /legacy/ctl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(502, response.Status);
        Assert.Equal("backend_response_invalid", response.ProblemCode());
        var record = await RecordAsync(response.Header("X-Request-Id")!);
        Assert.Equal((502, "allow", "backend_response_invalid"), (record.GetProperty("status").GetInt32(),
            record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
    }

    private async Task<byte[]> SendAsync(string path)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), timeout.Token);
        using var all = new MemoryStream();
        await stream.CopyToAsync(all, timeout.Token);
        return all.ToArray();
    }

    private async Task<JsonElement> RecordAsync(string requestId)
    {
        var file = Path.Combine(_edge.Directory, "audit-decisions.ndjson");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(file))
            {
                await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.EndsWith('}') && JsonDocument.Parse(line).RootElement is var record && record.GetProperty("id").GetString() == requestId)
                    {
                        return record.GetProperty("data").Clone();
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no audit record for {requestId}");
    }

    private async Task ServeAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _backend.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = AnswerAsync(client, cancellationToken);
        }
    }

    private static async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            var target = Encoding.ASCII.GetString(buffer, 0, read).Split(' ')[1];
            byte[] value = target switch
            {
                "/legacy/utf8" => Utf8Name,
                "/legacy/latin1" => [(byte)'c', (byte)'a', (byte)'f', 0xE9],
                _ => [(byte)'a', 0x01, (byte)'b'],
            };
            byte[] answer = [.. "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-Back: "u8, .. value, .. "\r\n\r\nok"u8];
            await stream.WriteAsync(answer, cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }
    }
}
