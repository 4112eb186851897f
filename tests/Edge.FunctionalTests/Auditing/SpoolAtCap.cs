using System.Net;
using System.Text.Json;
using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Auditing;

/// <summary>An edge whose writer never acknowledges (a closed port), so its small spool fills up and stays full.</summary>
internal static class SpoolAtCap
{
    public static Dictionary<string, string?> Settings(long maxBytes) => new()
    {
        ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
        ["Edge:Audit:SpoolMaxBytes"] = maxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // Nothing can be drained to a closed port; do not hold the test's shutdown for the default 10 s.
        ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
    };

    public static AuditSpool Spool(EdgeHost edge) => edge.Services.GetRequiredService<SpoolAuditSink>().Spool;

    /// <summary>
    /// Requests on an optional route (<paramref name="optionalPath"/> + a number) until the spool refuses one's record
    /// (counted as dropped), then the smallest records until it refuses those too: a refused request record leaves room
    /// for a smaller one, such as a tunnel's end.
    /// </summary>
    public static async Task FillAsync(EdgeHost edge, string optionalPath)
    {
        var spool = Spool(edge);
        var dropped = spool.Metrics.Dropped;
        for (var i = 0; spool.Metrics.Dropped == dropped; i++)
        {
            Assert.True(i < 1000, "the spool did not reach its cap");
            using var response = await edge.Client.GetAsync($"{optionalPath}{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        while (await spool.TryAppendAsync("{}"u8.ToArray()))
        {
        }
    }

    /// <summary>Waits until the spool took a record or refused one (counted as dropped) since these two readings.</summary>
    public static async Task WaitForAppendOrDropAsync(AuditSpool spool, long recordsBefore, long droppedBefore)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (spool.DurableSequence == recordsBefore && spool.Metrics.Dropped == droppedBefore)
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    /// <summary>The records the spool holds (the writer acknowledged none), without the fillers.</summary>
    public static List<JsonElement> Records(AuditSpool spool) =>
        spool.Read(spool.CreateCursor(), int.MaxValue, int.MaxValue)
            .Select(r => JsonDocument.Parse(r.Payload).RootElement.Clone())
            .Where(r => r.TryGetProperty("type", out _))
            .ToList();
}
