using System.Formats.Tar;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edge.Audit.Bundles;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Log;

namespace Edge.AuditWriter.Api;

/// <summary>
/// <c>GET /audit/export?format=ndjson|csv|bundle</c> with the filters and tenant rule of <c>/audit/records</c>.
/// Rows are written as SQLite yields them (oldest first), so memory stays flat whatever the export size; a bundle
/// holds at most one chunk of <see cref="AuditBundle.ChunkSize"/> records at a time.
/// </summary>
internal static partial class ExportEndpoint
{
    /// <summary>Tells a client (and a spreadsheet user reading the docs) that CSV rows carry no proof.</summary>
    public const string VerifiableHeader = "Edge-Audit-Verifiable";

    private const int FlushEvery = 1000;

    // An export is every matching record, oldest first: limit, order and cursor of /audit/records are refused, not ignored.
    private static readonly string[] ExportParameters = ["format"];

    public static async Task ExportAsync(HttpContext context, AuditLog log, Authorization.CallerAuthenticator authenticator)
    {
        var (caller, denied) = await ReadEndpoints.AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        var format = context.Request.Query["format"].ToString();
        RecordQuery? query = null;
        IResult? problem = denied;
        // Parameters first: a repeated format (format=csv&format=ndjson) is "given twice", not an unknown format "csv,ndjson".
        if (problem is null && !ReadEndpoints.TryBuildQuery(context.Request.Query, caller!, ExportParameters, out query, out problem))
        {
            query = null;
        }

        if (problem is null && format is not ("csv" or "ndjson" or "bundle"))
        {
            problem = Problems.BadParameter("invalid_format", "format", "format is ndjson, csv or bundle.");
        }

        if (problem is not null)
        {
            await problem.ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        // v2 records have no plaintext principal column: a principal filter goes through the keyed blind index.
        var window = TimeWindow.Of(query!);
        query = window.Widen(ReadEndpoints.WithBlindIndex(query!, log));
        var response = context.Response;
        var stamp = log.LatestCheckpoint.Size.ToString(CultureInfo.InvariantCulture);
        switch (format)
        {
            case "csv":
                response.ContentType = "text/csv; charset=utf-8";
                response.Headers[VerifiableHeader] = "false";
                response.Headers.ContentDisposition = $"attachment; filename=\"audit-{stamp}.csv\"";
                await WriteCsvAsync(response.Body, log, log.Store.Export(query).Where(window.Contains), context.RequestAborted).ConfigureAwait(false);
                break;
            case "ndjson":
                response.ContentType = "application/x-ndjson";
                response.Headers.ContentDisposition = $"attachment; filename=\"audit-{stamp}.ndjson\"";
                await WriteNdjsonAsync(response.Body, log.Store.Export(query).Where(window.Contains), context.RequestAborted).ConfigureAwait(false);
                break;
            default:
                // The bundle is pinned to one signed checkpoint: records appended after it are not covered, so not included.
                var checkpoint = log.LatestCheckpoint;
                response.ContentType = AuditBundle.ContentType;
                response.Headers.ContentDisposition = $"attachment; filename=\"audit-{checkpoint.Size.ToString(CultureInfo.InvariantCulture)}.tar\"";
                await WriteBundleAsync(response.Body, log, checkpoint, log.Store.Export(query with { Before = checkpoint.Size }).Where(window.Contains), context.RequestAborted).ConfigureAwait(false);
                break;
        }
    }

    private static async Task WriteNdjsonAsync(Stream body, IEnumerable<StoredRecord> records, CancellationToken cancellationToken)
    {
        var pending = 0;
        foreach (var record in records)
        {
            // Exact committed leaves, so the export verifies offline; a pruned record is only its leaf hash.
            await body.WriteAsync(ExportLine(record), cancellationToken).ConfigureAwait(false);
            await body.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            if (++pending == FlushEvery)
            {
                pending = 0;
                await body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal const string CsvHeader = "index,id,time,tenant,principal,route,method,path,status,decision,step,reason,leaf_sha256\n";

    /// <summary>The NDJSON line of a record (its exact leaf bytes) or, once pruned, <see cref="PrunedExportLine"/>: proven by its leaf hash.</summary>
    private static byte[] ExportLine(StoredRecord record) =>
        record.Pruned ? PrunedExportLine.Format(record.Index, record.LeafHash) : record.Leaf;

    private static async Task WriteCsvAsync(Stream body, AuditLog log, IEnumerable<StoredRecord> records, CancellationToken cancellationToken)
    {
        using var view = new RecordView(log);
        await body.WriteAsync(Encoding.UTF8.GetBytes(CsvHeader), cancellationToken).ConfigureAwait(false);
        var pending = 0;
        var row = new StringBuilder(512);
        foreach (var record in records)
        {
            // Method, path, status and step are not personal data: they are read from the committed leaf as is.
            var data = record.Pruned ? default : LeafFields.Read(record.Leaf);
            row.Clear()
                .Append(record.Index.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(CsvCell(record.Id)).Append(',')
                .Append(RecordTime.Format(data.Time ?? record.Time)).Append(',')
                .Append(CsvCell(record.Tenant)).Append(',')
                .Append(CsvCell(view.DisplayPrincipal(record))).Append(',')
                .Append(CsvCell(record.Route)).Append(',')
                .Append(CsvCell(data.Method)).Append(',')
                .Append(CsvCell(data.Path)).Append(',')
                .Append(data.Status?.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(CsvCell(record.Decision)).Append(',')
                .Append(CsvCell(data.Step)).Append(',')
                .Append(CsvCell(record.Reason)).Append(',')
                .Append(Convert.ToHexStringLower(record.LeafHash)).Append('\n');
            await body.WriteAsync(Encoding.UTF8.GetBytes(row.ToString()), cancellationToken).ConfigureAwait(false);
            if (++pending == FlushEvery)
            {
                pending = 0;
                await body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// RFC 4180 quoting, plus the OWASP CSV-injection defence: a cell a spreadsheet would read as a formula gets an
    /// apostrophe before the formula character (= + - @, tab or carriage return). Paths and reasons come from clients.
    /// A spreadsheet may start a cell inside ours too: where ';' is the list separator (German, French, Dutch locales)
    /// it splits "/x;=HYPERLINK(…)" at the ';' and does not see our quotes, a line break starts a row, a tab a TSV cell.
    /// </summary>
    internal static string CsvCell(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        value = FormulaStart().Replace(value, "'$0");
        return value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    /// <summary>A formula character where a spreadsheet may start a cell: the value's start, or after ; tab or a line break (and quotes).</summary>
    [GeneratedRegex("(?<=(?:^|[;\t\r\n])\"*)[=+\\-@\t\r]", RegexOptions.CultureInvariant)]
    private static partial Regex FormulaStart();

    private static async Task WriteBundleAsync(Stream body, AuditLog log, StoredCheckpoint checkpoint, IEnumerable<StoredRecord> selected, CancellationToken cancellationToken)
    {
        var modified = DateTimeOffset.UnixEpoch;
        var tar = new TarWriter(body, TarEntryFormat.Ustar, leaveOpen: true);
        await using (tar.ConfigureAwait(false))
        {
            async Task WriteEntryAsync(string name, MemoryStream content)
            {
                content.Position = 0;
                var entry = new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = content, ModificationTime = modified, Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead };
                await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
                await body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            using (var checkpointText = new MemoryStream(Encoding.UTF8.GetBytes(checkpoint.Note)))
            {
                await WriteEntryAsync(AuditBundle.CheckpointEntry, checkpointText).ConfigureAwait(false);
            }

            using (var keys = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', log.Verifiers.Select(v => v.ToString())) + "\n")))
            {
                await WriteEntryAsync(AuditBundle.KeyEntry, keys).ConfigureAwait(false);
            }

            using var records = new MemoryStream();
            using var proofs = new MemoryStream();
            var count = 0L;
            var chunk = 0;
            var inChunk = 0;
            var json = new Utf8JsonWriter(proofs);
            await using (json.ConfigureAwait(false))
            {
                async Task FlushChunkAsync()
                {
                    await WriteEntryAsync(AuditBundle.RecordsEntry(chunk), records).ConfigureAwait(false);
                    await WriteEntryAsync(AuditBundle.ProofsEntry(chunk), proofs).ConfigureAwait(false);
                    records.SetLength(0);
                    proofs.SetLength(0);
                    json.Reset(proofs);
                    chunk++;
                    inChunk = 0;
                }

                foreach (var record in selected)
                {
                    records.Write(ExportLine(record));
                    records.WriteByte((byte)'\n');
                    json.WriteStartObject();
                    json.WriteNumber("index", record.Index);
                    json.WriteStartArray("proof");
                    foreach (var hash in log.InclusionProof(record.Index, checkpoint.Size))
                    {
                        json.WriteBase64StringValue(hash);
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                    json.Flush();
                    proofs.WriteByte((byte)'\n');
                    json.Reset(proofs);
                    count++;
                    if (++inChunk == AuditBundle.ChunkSize)
                    {
                        await FlushChunkAsync().ConfigureAwait(false);
                    }
                }

                if (inChunk > 0)
                {
                    await FlushChunkAsync().ConfigureAwait(false);
                }
            }

            using var manifest = new MemoryStream();
            var manifestJson = new Utf8JsonWriter(manifest, new JsonWriterOptions { Indented = true });
            await using (manifestJson.ConfigureAwait(false))
            {
                manifestJson.WriteStartObject();
                manifestJson.WriteString("format", AuditBundle.Format);
                manifestJson.WriteNumber("treeSize", checkpoint.Size);
                manifestJson.WriteNumber("records", count);
                manifestJson.WriteNumber("chunks", chunk);
                manifestJson.WriteEndObject();
            }

            manifest.WriteByte((byte)'\n');
            await WriteEntryAsync(AuditBundle.ManifestEntry, manifest).ConfigureAwait(false);
        }
    }
}
