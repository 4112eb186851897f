using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Edge.Testing;

/// <summary>
/// A loopback HTTP/1.1 backend that records each request exactly as it arrived on the wire: the request line's target
/// (not re-encoded, unlike a framework's parsed path) and the header lines. Answers every request 200 with an empty
/// body and keeps the connection open for the next one.
/// </summary>
public sealed class RawHttpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private RawHttpBackend(TcpListener listener)
    {
        _listener = listener;
        _accepting = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

    public ConcurrentQueue<RawRequest> Received { get; } = new();

    public static RawHttpBackend Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new RawHttpBackend(listener);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var buffer = new List<byte>();
        var chunk = new byte[8192];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int end;
                while ((end = HeaderEnd(buffer)) < 0)
                {
                    var read = await stream.ReadAsync(chunk, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    buffer.AddRange(chunk.AsSpan(0, read));
                }

                var head = Encoding.Latin1.GetString(buffer.GetRange(0, end).ToArray());
                buffer.RemoveRange(0, end + 4);
                var lines = head.Split("\r\n");
                var requestLine = lines[0].Split(' ');
                var headers = new List<KeyValuePair<string, string>>();
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':');
                    headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
                }

                var length = headers.Where(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    .Select(h => int.Parse(h.Value, CultureInfo.InvariantCulture)).FirstOrDefault();
                while (buffer.Count < length)
                {
                    var read = await stream.ReadAsync(chunk, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    buffer.AddRange(chunk.AsSpan(0, read));
                }

                buffer.RemoveRange(0, length);
                Received.Enqueue(new RawRequest(requestLine[0], requestLine[1], headers));
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
    }

    private static int HeaderEnd(List<byte> buffer)
    {
        for (var i = 0; i + 3 < buffer.Count; i++)
        {
            if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n')
            {
                return i;
            }
        }

        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

/// <summary>One request as <see cref="RawHttpBackend"/> read it: method, request target and header lines, verbatim.</summary>
public sealed record RawRequest(string Method, string Target, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public string Header(string name) => Headers.Single(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public string? HeaderOrNull(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}
