using System.Globalization;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.Audit.Storage;
using Edge.AuditWriter.Api;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Ingest;

/// <summary>
/// POST /audit/ingest: an NDJSON batch of exact leaf bytes. Answers <c>{"acked": seq}</c> only after the batch is
/// durably committed; replayed records (same id) are ignored, so a retried batch is acknowledged again.
/// </summary>
internal static partial class IngestEndpoint
{
    public static void Map(WebApplication app) => app.MapPost(IngestProtocol.Path, HandleAsync);

    private static async Task<IResult> HandleAsync(HttpContext context, AuditLog log, IOptions<WriterOptions> options, IngestAuthenticator authenticator, ILogger<AuditLog> logger)
    {
        var request = context.Request;
        if (!authenticator.IsAllowed(request))
        {
            return Problems.Unauthorized("ingest_unauthenticated", "A valid ingest token is required.", IngestAuthenticator.Challenge);
        }

        if (!long.TryParse(request.Headers[IngestProtocol.LastSequenceHeader], NumberStyles.None, CultureInfo.InvariantCulture, out var lastSequence))
        {
            return Problems.BadRequest("missing_sequence", $"The {IngestProtocol.LastSequenceHeader} header must carry the batch's last spool sequence.");
        }

        if (request.ContentLength > options.Value.MaxIngestBytes)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large", $"At most {options.Value.MaxIngestBytes} bytes per batch.");
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        if (buffer.Length > options.Value.MaxIngestBytes)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large", $"At most {options.Value.MaxIngestBytes} bytes per batch.");
        }

        ReadOnlyMemory<byte> body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        var leaves = new List<PendingLeaf>();
        var line = 0;
        while (body.Length > 0)
        {
            line++;
            var end = body.Span.IndexOf((byte)'\n');
            var leaf = end < 0 ? body : body[..end];
            body = end < 0 ? ReadOnlyMemory<byte>.Empty : body[(end + 1)..];
            if (leaf.Length == 0)
            {
                continue;
            }

            var bytes = leaf.ToArray();
            // The byte[] overload parses the copy in place (the span one would copy it again).
            var summary = LeafSummary.TryParse(bytes, out var error);
            if (summary is null)
            {
                return Problems.BadRequest("invalid_record", $"Line {line}: {error}");
            }

            leaves.Add(new PendingLeaf(bytes, summary));
        }

        try
        {
            // Not bound to RequestAborted: once started, the commit completes even if the edge gave up waiting.
            await log.AppendAsync(leaves, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SqliteException exception)
        {
            // The batch's transaction was rolled back as a whole: nothing of it is stored, so the edge keeps it and retries.
            Log.BatchFailed(logger, leaves.Count, exception.SqliteErrorCode, exception.Message);
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "ingest_failed", "Batch not stored",
                "The batch was rolled back and nothing of it was stored; retry it.");
        }

        return Results.Json(new { acked = lastSequence });
    }

    private static partial class Log
    {
        [LoggerMessage(2150, LogLevel.Error, "An ingest batch of {Records} records was rolled back (SQLite error {SqliteError}): {Reason}")]
        public static partial void BatchFailed(ILogger logger, int records, int sqliteError, string reason);
    }
}
