using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.IO.Compression;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.Audit.Storage;
using Edge.AuditWriter.Api;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.Configuration.Tenancy;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Edge.AuditWriter.Ingest;

/// <summary>
/// POST /audit/ingest: an NDJSON batch of exact leaf bytes. Answers <c>{"acked": seq}</c> only after the batch is
/// durably committed; replayed records (same id) are ignored, so a retried batch is acknowledged again. The body may be
/// gzip or brotli (<c>Content-Encoding</c>); Writer:MaxIngestBytes caps it after decompression.
/// </summary>
internal static partial class IngestEndpoint
{
    public static void Map(WebApplication app) => app.MapPost(IngestProtocol.Path, HandleCountedAsync);

    private static async Task<IResult> HandleCountedAsync(
        HttpContext context, AuditLog log, IOptions<WriterOptions> options, IngestAuthenticator authenticator, IngestGate gate, IngestMetrics metrics,
        ILogger<AuditLog> logger)
    {
        IResult result;
        try
        {
            result = await HandleAsync(context, log, options, authenticator, gate, metrics, logger).ConfigureAwait(false);
        }
        catch (Exception) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The exception handler answers 500 problem+json; the ingest metric must count it like any other answer.
            metrics.Answered(StatusCodes.Status500InternalServerError);
            throw;
        }

        metrics.Answered((result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK);
        return result;
    }

    private static async Task<IResult> HandleAsync(
        HttpContext context, AuditLog log, IOptions<WriterOptions> options, IngestAuthenticator authenticator, IngestGate gate, IngestMetrics metrics,
        ILogger<AuditLog> logger)
    {
        var request = context.Request;
        if (!authenticator.IsAllowed(context))
        {
            return authenticator.IsOpen
                ? Problems.Create(StatusCodes.Status403Forbidden, "ingest_local_only", "Ingest is local only",
                    "Without Writer:IngestToken this writer accepts records only from this machine, addressed by IP or localhost; set Writer:IngestToken (and Edge:Audit:IngestToken on the edges).")
                : Problems.Unauthorized("ingest_unauthenticated", "A valid ingest token is required.", IngestAuthenticator.Challenge);
        }

        if (!log.IsSequencer)
        {
            // Before reading the body: a standby answers at once, and the shipper moves on.
            return Problems.WriterStandby();
        }

        if (!long.TryParse(request.Headers[IngestProtocol.LastSequenceHeader], NumberStyles.None, CultureInfo.InvariantCulture, out var lastSequence))
        {
            return Problems.BadRequest("missing_sequence", $"The {IngestProtocol.LastSequenceHeader} header must carry the batch's last spool sequence.");
        }

        // The shipper sends application/x-ndjson without a charset; a form post or text/plain body was parsed as records
        // all the same, and so was one declared in another charset (read as UTF-8, as the erasure endpoint refuses to).
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !string.Equals(mediaType.MediaType.Value, IngestProtocol.ContentType, StringComparison.OrdinalIgnoreCase)
            || !RequestCharset.IsUtf8OrAbsent(mediaType))
        {
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported media type",
                $"A batch is {IngestProtocol.ContentType} in UTF-8: one record per line.");
        }

        if (request.ContentLength > options.Value.MaxIngestBytes)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large", $"At most {options.Value.MaxIngestBytes} bytes per batch.");
        }

        // Taken before the body is read and held until the batch's commit answers: the body, its parsed records and the
        // queued append are what the bound is for. Cheap refusals above need no slot.
        using var slot = gate.TryEnter();
        if (slot is null)
        {
            metrics.Busy();
            return Problems.IngestBusy(options.Value.MaxConcurrentIngests);
        }

        Stream source;
        // Content codings are case-insensitive, and x-gzip is gzip (RFC 9110 §8.4.1): GZIP was refused 415.
        switch (request.Headers.ContentEncoding.ToString().ToLowerInvariant())
        {
            case "" or "identity":
                source = request.Body;
                break;
            case "gzip" or "x-gzip":
                source = new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
                break;
            case "br":
                source = new BrotliStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
                break;
            default:
                return Problems.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_encoding", "Unsupported Content-Encoding",
                    "A batch is sent as is, or with Content-Encoding gzip or br.");
        }

        // The body goes into one pooled array, sized from Content-Length when it is given: a MemoryStream grown by
        // doubling allocated about twice the batch on the large-object heap per request, and the kernel zeroed each
        // fresh page (6% of the writer's CPU in perf).
        var limit = options.Value.MaxIngestBytes;
        // Kestrel's own body limit (30,000,000 bytes) sat below the default cap: a batch between them threw from the read
        // and was answered 500, which the edge retries unchanged. The read below stops after limit + 1 bytes; a compressed
        // body gets the cap a declared Content-Length has above (empty gzip members expand to nothing, without end).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = limit + 1L;
        }

        byte[] buffer;
        int length;
        await using (source.ConfigureAwait(false))
        {
            try
            {
                // The cap applies to the decompressed bytes: a small compressed body must not expand without bound.
                var initial = source == request.Body && request.ContentLength is { } declared ? (int)declared + 1 : 64 * 1024;
                (buffer, length) = await ReadCappedAsync(source, initial, limit, context.RequestAborted).ConfigureAwait(false);
            }
            catch (InvalidDataException)
            {
                return Problems.BadRequest("invalid_encoding", "The body is not valid for its Content-Encoding.");
            }
            catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // A compressed body whose raw bytes outgrow the cap while it decompresses to less.
                return Problems.Create(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large",
                    $"At most {limit} bytes per batch, compressed or not.");
            }
            catch (BadHttpRequestException unreadable) when (!context.RequestAborted.IsCancellationRequested)
            {
                // A slowloris or stalled sender (MinRequestBodyDataRate), or a bad chunk: the request's fault, not the writer's.
                return Problems.BodyUnreadable(unreadable);
            }
        }

        List<PendingLeaf> leaves;
        try
        {
            if (length > limit)
            {
                return Problems.Create(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large",
                    $"At most {limit} bytes per batch, after decompression.");
            }

            var maxRecord = options.Value.MaxRecordBytes;
            leaves = new List<PendingLeaf>(Math.Max(16, length / 512));
            ReadOnlyMemory<byte> body = buffer.AsMemory(0, length);
            var line = 0;
            while (body.Length > 0)
            {
                line++;
                var end = body.Span.IndexOf((byte)'\n');
                var leaf = TrimJsonWhitespace(end < 0 ? body : body[..end]);
                body = end < 0 ? ReadOnlyMemory<byte>.Empty : body[(end + 1)..];
                if (leaf.Length == 0)
                {
                    continue;
                }

                // 413 as for the batch; the code tells the shipper that smaller batches would not help.
                if (leaf.Length > maxRecord)
                {
                    return Problems.Create(StatusCodes.Status413PayloadTooLarge, IngestProtocol.RecordTooLargeCode, "Record too large",
                        $"Line {line}: a record of {leaf.Length} bytes; at most {maxRecord} bytes per record (Writer:MaxRecordBytes).");
                }

                // A raw CR can only be whitespace between JSON tokens (a JSON string escapes it). Committed, it would end a
                // line of the export for readers that take CR as a line break (Python's text mode, .NET's ReadLine), and a
                // third party hashing those lines would hash other bytes than the leaf.
                if (leaf.Span.Contains((byte)'\r'))
                {
                    return Problems.BadRequest("invalid_record", $"Line {line}: a carriage return inside the record; send it without whitespace between members.");
                }

                var bytes = leaf.ToArray();
                // The byte[] overload parses the copy in place (the span one would copy it again).
                var summary = LeafSummary.TryParse(bytes, out var layout, out var error);
                if (summary is null)
                {
                    return Problems.BadRequest("invalid_record", $"Line {line}: {error}");
                }

                // Stored, a record under another tenant name is out of reach: tenant= takes tenant ids only, so do
                // tenant-scoped callers' credentials and Writer:Retention:Tenants. The edge validates every tenant it records.
                if (summary.Tenant is not null && !TenantId.IsValid(summary.Tenant))
                {
                    return Problems.BadRequest("invalid_record",
                        $"Line {line}: tenant must be a tenant id: 1 to {TenantId.MaxLength} of A-Z a-z 0-9 . _ - and not dots only.");
                }

                leaves.Add(new PendingLeaf(bytes, summary) { Layout = layout });
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        try
        {
            // Bound to RequestAborted only while the batch waits behind other commits: an edge that gave up (its request
            // timed out while the store stalled) sends the batch again, so a waiting copy is dropped rather than held for
            // a commit nobody waits for. Once a commit took it, it completes whether or not the edge still waits.
            var stored = await log.AppendAsync(leaves, context.RequestAborted).ConfigureAwait(false);
            metrics.Stored(stored, leaves.Count - stored);
        }
        catch (WriterStandbyException)
        {
            // The lease was lost while this batch waited or was fenced at commit: nothing of it is stored.
            return Problems.WriterStandby();
        }
        catch (StoreFileGoneException gone)
        {
            // Not acknowledged, so the edge keeps the batch in its spool until a writer with its store in place takes it.
            Log.StoreGone(logger, gone.StorePath);
            return Problems.StoreUnavailable();
        }
        catch (DbException exception)
        {
            // The batch's transaction was rolled back as a whole: nothing of it is stored, so the edge keeps it and retries.
            Log.BatchFailed(logger, leaves.Count, exception.ErrorCode, exception.Message);
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "ingest_failed", "Batch not stored",
                "The batch was rolled back and nothing of it was stored; retry it.");
        }

        return Results.Json(new { acked = lastSequence });
    }

    /// <summary>
    /// Reads the body into a pooled array (the caller returns it); stops as soon as more than <paramref name="limit"/>
    /// bytes arrived, so a returned length above the limit means too large.
    /// </summary>
    private static async Task<(byte[] Buffer, int Length)> ReadCappedAsync(Stream source, int initial, int limit, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(initial, 1), limit + 1L));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > limit)
                    {
                        return (buffer, length);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await source.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length);
                }

                length += read;
                if (length > limit)
                {
                    return (buffer, length);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    // The leaf is stored and hashed as received, so a CRLF line or padding around the object would become part of it,
    // and a verifier reading the export line by line (most readers drop the \r) would hash other bytes.
    private static ReadOnlyMemory<byte> TrimJsonWhitespace(ReadOnlyMemory<byte> line)
    {
        var span = line.Span;
        var start = 0;
        var end = span.Length;
        while (start < end && IsJsonWhitespace(span[start]))
        {
            start++;
        }

        while (end > start && IsJsonWhitespace(span[end - 1]))
        {
            end--;
        }

        return line[start..end];
    }

    private static bool IsJsonWhitespace(byte value) => value is (byte)' ' or (byte)'\t' or (byte)'\r';

    private static partial class Log
    {
        [LoggerMessage(2150, LogLevel.Error, "An ingest batch of {Records} records was rolled back (store error {StoreError}): {Reason}")]
        public static partial void BatchFailed(ILogger logger, int records, int storeError, string reason);

        [LoggerMessage(2151, LogLevel.Error, "The audit store {StorePath} is gone (deleted or moved while the writer runs): batches are refused and stay in the edges' spools; restore the file and restart the writer")]
        public static partial void StoreGone(ILogger logger, string storePath);
    }
}
