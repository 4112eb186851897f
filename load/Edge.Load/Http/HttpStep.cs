using System.Buffers;
using System.Globalization;
using Edge.Load.Scenarios;

namespace Edge.Load.Http;

/// <summary>Sends one request and turns the outcome into a <see cref="Response"/>: ok when the status is expected.</summary>
public static class HttpStep
{
    private static readonly string[] StatusText = [.. Enumerable.Range(0, 600).Select(static i => i.ToString(CultureInfo.InvariantCulture))];

    public static async Task<Response> SendAsync(HttpClient client, HttpRequestMessage request, IReadOnlySet<int> expectedStatuses, CancellationToken cancellationToken)
    {
        long sent = request.Content?.Headers.ContentLength ?? 0;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var received = await DrainAsync(response.Content, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var code = status is >= 0 and < 600 ? StatusText[status] : status.ToString(CultureInfo.InvariantCulture);
            return expectedStatuses.Contains(status)
                ? Response.Ok(code, sent + received)
                : Response.Fail(code, sent + received, "unexpected status");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Response.Fail("timeout", sent);
        }
        catch (HttpRequestException ex)
        {
            return Response.Fail(ex.HttpRequestError == HttpRequestError.Unknown ? "http_error" : "http_" + ex.HttpRequestError.ToString().ToLowerInvariant(), sent, ex.Message);
        }
        finally
        {
            request.Dispose();
        }
    }

    private static async Task<long> DrainAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                long total = 0;
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    total += read;
                }

                return total;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public static IReadOnlySet<int> ParseStatuses(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(static s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture))
            .ToHashSet();
}
