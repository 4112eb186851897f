using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Edge.FunctionalTests.Hostile;

/// <summary>The parsed answer to a raw request, or <see cref="Status"/> 0 when the server closed without answering.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? ProblemCode()
    {
        if (Header("Content-Type")?.StartsWith("application/problem+json", StringComparison.Ordinal) != true)
        {
            return null;
        }

        using var json = JsonDocument.Parse(Body);
        return json.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
    }
}

/// <summary>
/// Writes bytes exactly as given to a loopback port and reads one HTTP/1.1 response. HttpClient cannot send what these
/// tests need: wrong chunk sizes, both Content-Length and Transfer-Encoding, absolute-form targets, CONNECT.
/// </summary>
public static class RawHttp
{
    public static Task<RawResponse> SendAsync(int port, string request) => SendAsync(port, Encoding.ASCII.GetBytes(request));

    /// <summary>Sends <paramref name="request"/>, optionally closes the sending side, and reads one response.</summary>
    public static async Task<RawResponse> SendAsync(int port, byte[] request, bool shutdownSend = false)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        if (shutdownSend)
        {
            client.Client.Shutdown(SocketShutdown.Send);
        }

        return await ReadResponseAsync(stream, timeout.Token);
    }

    /// <summary>
    /// Sends <paramref name="requests"/> on one connection (the last should say <c>Connection: close</c>) and reads every
    /// response until the server closes it. Each response must carry a <c>Content-Length</c> (the edge's own answers do).
    /// </summary>
    public static async Task<IReadOnlyList<RawResponse>> SendPipelinedAsync(int port, string requests)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(requests), timeout.Token);
        using var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all, timeout.Token);
        }
        catch (IOException)
        {
            // A reset after the last answer: what arrived before it is in the buffer.
        }

        var responses = new List<RawResponse>();
        var bytes = all.ToArray();
        var offset = 0;
        while (offset < bytes.Length)
        {
            var (response, consumed) = Parse(bytes.AsSpan(offset));
            responses.Add(response);
            offset += consumed;
        }

        return responses;
    }

    private static (RawResponse Response, int Consumed) Parse(ReadOnlySpan<byte> bytes)
    {
        var headerEnd = bytes.IndexOf("\r\n\r\n"u8);
        if (headerEnd < 0)
        {
            throw new InvalidDataException("incomplete response head: " + Encoding.ASCII.GetString(bytes));
        }

        var lines = Encoding.ASCII.GetString(bytes[..headerEnd]).Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var length = int.Parse(headers["Content-Length"], System.Globalization.CultureInfo.InvariantCulture);
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var body = Encoding.UTF8.GetString(bytes.Slice(headerEnd + 4, length));
        return (new RawResponse(status, headers, body), headerEnd + 4 + length);
    }

    /// <summary>
    /// Sends <paramref name="head"/>, then <paramref name="trickle"/> again and again with a pause in between, until the
    /// server answers (or the connection breaks), and reads that response: a body arriving too slowly.
    /// </summary>
    public static async Task<RawResponse> TrickleAsync(int port, string head, byte[] trickle, TimeSpan pause)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
        try
        {
            while (!stream.DataAvailable)
            {
                await stream.WriteAsync(trickle, timeout.Token);
                await Task.Delay(pause, timeout.Token);
            }
        }
        catch (IOException)
        {
            // The server closed its side after answering; the answer is still in the receive buffer.
        }

        return await ReadResponseAsync(stream, timeout.Token);
    }

    private static async Task<RawResponse> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[8192];
        int headerEnd;
        while ((headerEnd = IndexOfHeaderEnd(received)) < 0)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, cancellationToken);
            }
            catch (IOException)
            {
                read = 0;
            }

            if (read == 0)
            {
                return new RawResponse(0, new Dictionary<string, string>(), "");
            }

            received.AddRange(buffer.AsSpan(0, read));
        }

        var head = Encoding.ASCII.GetString(received.ToArray(), 0, headerEnd);
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }

        var body = received.Skip(headerEnd + 4).ToList();
        var length = headers.TryGetValue("Content-Length", out var text) ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 0;
        while (body.Count < length)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                break;
            }

            body.AddRange(buffer.AsSpan(0, read));
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private static int IndexOfHeaderEnd(List<byte> bytes)
    {
        for (var i = 0; i + 3 < bytes.Count; i++)
        {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n' && bytes[i + 2] == '\r' && bytes[i + 3] == '\n')
            {
                return i;
            }
        }

        return -1;
    }
}
