using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using Edge.Load.Scenarios;

namespace Edge.Load.Http;

/// <summary>Sends one request and turns the outcome into a <see cref="Response"/>: ok when the status is expected.</summary>
public static class HttpStep
{
    private static readonly string[] StatusText = [.. Enumerable.Range(0, 600).Select(static i => i.ToString(CultureInfo.InvariantCulture))];

    public static async Task<Response> SendAsync(HttpClient client, HttpRequestMessage request, IReadOnlySet<int> expectedStatuses, CancellationToken cancellationToken)
    {
        long sent = request.Content?.Headers.ContentLength ?? 0;

        // HttpClient.Timeout ends at the response headers (ResponseHeadersRead); the timeout must also cover the body, or
        // a server that sends its headers and stalls counted as a slow success instead of a timeout.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (client.Timeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(client.Timeout);
        }

        // Bytes received so far, so a request that fails mid-body (timeout, reset) still reports what it moved.
        var received = new StrongBox<long>();
        Version? version = null;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            version = response.Version;
            await DrainAsync(response.Content, received, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var code = status is >= 0 and < 600 ? StatusText[status] : status.ToString(CultureInfo.InvariantCulture);
            return expectedStatuses.Contains(status)
                ? new Response { IsOk = true, StatusCode = code, SizeBytes = sent + received.Value, Version = version }
                : new Response { IsOk = false, StatusCode = code, SizeBytes = sent + received.Value, Version = version, Message = "unexpected status" };
        }
        catch (OperationCanceledException)
        {
            // The run's own token is the stop (Ctrl+C): 'cancelled', as the runner labels an invocation cut off by it.
            var status = cancellationToken.IsCancellationRequested ? "cancelled" : "timeout";
            return new Response { IsOk = false, StatusCode = status, SizeBytes = sent + received.Value, Version = version };
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            // No connection, so the request body never left: counting it reported bytes for a target that was down.
            return new Response { IsOk = false, StatusCode = Label(ex.HttpRequestError, ex), SizeBytes = 0, Message = ex.Message };
        }
        catch (HttpRequestException ex)
        {
            return new Response { IsOk = false, StatusCode = Label(ex.HttpRequestError, ex), SizeBytes = sent + received.Value, Version = version, Message = ex.Message };
        }
        catch (IOException ex)
        {
            // The body broke off after the headers (a reset, or fewer bytes than Content-Length): a transport failure,
            // labelled like one instead of as a bug in the scenario ("exception").
            return new Response { IsOk = false, StatusCode = Label(ex is HttpIOException io ? io.HttpRequestError : HttpRequestError.Unknown, ex), SizeBytes = sent + received.Value, Version = version, Message = ex.Message };
        }
        finally
        {
            request.Dispose();
        }
    }

    /// <summary>http_connectionerror, http_responseended…; for an unclassified error the socket's own reason (http_connectionreset) when there is one.</summary>
    private static string Label(HttpRequestError error, Exception ex)
    {
        if (error != HttpRequestError.Unknown)
        {
            return "http_" + error.ToString().ToLowerInvariant();
        }

        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket)
            {
                return "http_" + socket.SocketErrorCode.ToString().ToLowerInvariant();
            }
        }

        return "http_error";
    }

    private static async Task DrainAsync(HttpContent content, StrongBox<long> received, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    received.Value += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// The <c>expect</c> parameter ("200,429"). A FormatException (a usage error) names the parameter: int.Parse's own
    /// message did not, and a number past int's range threw OverflowException, which ended the tool with a stack trace.
    /// </summary>
    public static IReadOnlySet<int> ParseStatuses(string text)
    {
        var statuses = new HashSet<int>();
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(entry, NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 100 or > 599)
            {
                throw new FormatException($"parameter expect='{text}': '{entry}' is not an HTTP status (100-599); give a comma-separated list such as 200,429.");
            }

            statuses.Add(status);
        }

        return statuses.Count > 0 ? statuses : throw new FormatException($"parameter expect='{text}' names no HTTP status; give a comma-separated list such as 200,429.");
    }
}
