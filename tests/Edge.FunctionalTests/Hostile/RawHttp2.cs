using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// How stream 1 ended: its <c>:status</c> (0 when none came) and body, or the error code of its RST_STREAM or of a GOAWAY.
/// After an answer, the RST_STREAM Kestrel may send for a body it did not read is left out.
/// </summary>
public sealed record H2Outcome(int Status, int? Reset, int? GoAway, string? Body = null)
{
    public string? ProblemCode()
    {
        if (Body is null)
        {
            return null;
        }

        using var json = JsonDocument.Parse(Body);
        return json.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
    }
}

/// <summary>
/// HTTP/2 (h2c with prior knowledge, or h2 chosen by ALPN over TLS with <c>tls</c>) written as raw frames on stream 1, since HttpClient derives <c>:authority</c> from
/// Host, never sends connection-specific headers, and cannot send DATA that disagrees with <c>content-length</c>, leave
/// a stream open, or trickle its body.
/// </summary>
public static class RawHttp2
{
    public const byte Data = 0x0;
    public const byte RstStream = 0x3;
    public const byte EndStream = 0x1;
    public const int ProtocolError = 0x1;
    public const int InternalError = 0x2;
    public const int Cancel = 0x8;

    /// <summary>Sends one request on stream 1, its body (if any) as one DATA frame that ends the stream, and returns how the stream ended.</summary>
    public static async Task<H2Outcome> ExchangeAsync(int port, IReadOnlyList<(string Name, string Value)> headers, byte[]? body, bool tls = false)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var stream = await ConnectAsync(client, port, tls, timeout.Token);

        var request = PrefaceAndHeaders(headers, endStream: body is null);
        if (body is not null)
        {
            request.AddRange(Frame(Data, EndStream, 1, body));
        }

        await stream.WriteAsync(request.ToArray(), timeout.Token);
        return await ReadOutcomeAsync(stream, timeout.Token);
    }

    /// <summary>
    /// Sends the headers, then <paramref name="trickle"/> as DATA frames again and again with a pause in between (never
    /// ending the stream), until the server sends anything or closes, and returns how the stream ended: a body arriving
    /// too slowly.
    /// </summary>
    public static async Task<H2Outcome> TrickleAsync(int port, IReadOnlyList<(string Name, string Value)> headers, byte[] trickle, TimeSpan pause, bool tls = false)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var stream = await ConnectAsync(client, port, tls, timeout.Token);
        await stream.WriteAsync(PrefaceAndHeaders(headers, endStream: false).ToArray(), timeout.Token);

        // The server's SETTINGS (and its ACK, WINDOW_UPDATEs) arrive at once; what matters is what comes after them.
        var reading = ReadOutcomeAsync(stream, timeout.Token);
        try
        {
            while (!reading.IsCompleted)
            {
                await stream.WriteAsync(Frame(Data, 0, 1, trickle), timeout.Token);
                await Task.WhenAny(reading, Task.Delay(pause, timeout.Token));
            }
        }
        catch (IOException)
        {
            // The server closed the connection; what it sent before is still read.
        }

        return await reading;
    }

    /// <summary>
    /// The connection's stream: the socket's, or with <paramref name="tls"/> a TLS session that offered only <c>h2</c> by
    /// ALPN (the test's own self-signed certificate is accepted).
    /// </summary>
    public static async Task<Stream> ConnectAsync(TcpClient client, int port, bool tls, CancellationToken cancellationToken)
    {
        await client.ConnectAsync("127.0.0.1", port, cancellationToken);
        if (!tls)
        {
            return client.GetStream();
        }

        var secure = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, static (_, _, _, _) => true);
        await secure.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions { TargetHost = "localhost", ApplicationProtocols = [SslApplicationProtocol.Http2] }, cancellationToken);
        return secure.NegotiatedApplicationProtocol == SslApplicationProtocol.Http2
            ? secure
            : throw new InvalidOperationException($"ALPN chose '{secure.NegotiatedApplicationProtocol}', not h2");
    }

    /// <summary>The connection preface, an empty SETTINGS frame and stream 1's HEADERS frame.</summary>
    public static List<byte> PrefaceAndHeaders(IReadOnlyList<(string Name, string Value)> headers, bool endStream)
    {
        var request = new List<byte>(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        request.AddRange(Frame(0x4, 0, 0, []));
        request.AddRange(Frame(0x1, (byte)(0x4 | (endStream ? EndStream : 0)), 1, HeaderBlock(headers)));
        return request;
    }

    /// <summary>A header block for a HEADERS frame (the request's, or trailers).</summary>
    public static byte[] HeaderBlock(IEnumerable<(string Name, string Value)> headers)
    {
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            // HPACK literal field without indexing, new name, no Huffman coding (RFC 7541 §6.2.2).
            block.Add(0x00);
            block.Add((byte)name.Length);
            // Latin-1: one byte per char, so a test can send any byte in a name or value.
            block.AddRange(Encoding.Latin1.GetBytes(name));
            block.Add((byte)value.Length);
            block.AddRange(Encoding.Latin1.GetBytes(value));
        }

        return [.. block];
    }

    /// <summary>
    /// Reads frames until the server acknowledges the client's SETTINGS: Kestrel has then read what was sent with it (the
    /// preface, SETTINGS and what followed in the same write) off the socket, so a reset the client sends next cannot
    /// discard the request unseen.
    /// </summary>
    public static async Task ReadUntilSettingsAckAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        while (true)
        {
            await stream.ReadExactlyAsync(header, cancellationToken);
            var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
            await stream.ReadExactlyAsync(payload, cancellationToken);
            if (header[3] == 0x4 && (header[4] & 0x1) != 0)
            {
                return;
            }
        }
    }

    public static async Task<H2Outcome> ReadOutcomeAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        var status = 0;
        var body = new List<byte>();
        while (true)
        {
            try
            {
                await stream.ReadExactlyAsync(header, cancellationToken);
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException)
            {
                return Answered(status, body) ?? new H2Outcome(0, null, null);
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var type = header[3];
            var flags = header[4];
            var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, cancellationToken);
            if (streamId == 1 && type == RstStream)
            {
                return Answered(status, body) ?? new H2Outcome(0, BinaryPrimitives.ReadInt32BigEndian(payload), null);
            }

            if (type == 0x7)
            {
                return Answered(status, body) ?? new H2Outcome(0, null, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
            }

            if (streamId == 1 && type == 0x1 && status == 0)
            {
                status = Status(payload);
            }
            else if (streamId == 1 && type == Data)
            {
                body.AddRange(payload);
            }

            if (streamId == 1 && (flags & EndStream) != 0 && type is Data or 0x1)
            {
                return Answered(status, body)!;
            }
        }
    }

    private static H2Outcome? Answered(int status, List<byte> body) =>
        status == 0 ? null : new H2Outcome(status, null, null, body.Count == 0 ? null : Encoding.UTF8.GetString([.. body]));

    /// <summary>The <c>:status</c> Kestrel sends first in a response's header block (it never uses the dynamic table for it).</summary>
    private static int Status(byte[] block) => block[0] switch
    {
        // Indexed fields of the HPACK static table (RFC 7541 Appendix A).
        0x88 => 200,
        0x8C => 400,
        0x8D => 404,
        // A literal (with incremental indexing, or without) named ":status" from the static table, then three digits.
        0x48 or 0x08 when block[1] == 3 => int.Parse(Encoding.ASCII.GetString(block, 2, 3), System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new InvalidOperationException($"unexpected first header field 0x{block[0]:x2}"),
    };

    public static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }
}
