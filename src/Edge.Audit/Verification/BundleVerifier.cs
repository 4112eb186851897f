using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Audit.Bundles;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;

namespace Edge.Audit.Verification;

/// <summary>
/// Checks an export bundle offline (docs/audit.md, "Export bundles"): the checkpoint's signature, then for every record
/// its leaf hash (RFC 6962: SHA-256(0x00 || record bytes), or the hash a pruned line carries) and its inclusion proof up to the signed root (RFC 9162
/// §2.1.3.2), then the manifest's counts. Reads one chunk at a time. Any unreadable or unexpected content is a failure:
/// a bundle that cannot be checked must not be trusted.
/// </summary>
public static class BundleVerifier
{
    /// <param name="trusted">Keys the auditor trusts; null means "use the key inside the bundle" (reported as such).</param>
    public static BundleReport Verify(Stream bundle, IReadOnlyCollection<NoteVerifier>? trusted)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        try
        {
            return VerifyEntries(new TarReader(bundle, leaveOpen: true), trusted);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or JsonException or EndOfStreamException or ArgumentException or InvalidOperationException)
        {
            return BundleReport.Failure(0, $"the bundle cannot be read: {ex.Message}");
        }
    }

    private static BundleReport VerifyEntries(TarReader reader, IReadOnlyCollection<NoteVerifier>? trusted)
    {
        var note = ReadText(reader, AuditBundle.CheckpointEntry, out var failure);
        var keys = failure is null ? ReadText(reader, AuditBundle.KeyEntry, out failure) : null;
        if (failure is not null)
        {
            return failure;
        }

        var verifiers = trusted;
        if (verifiers is null)
        {
            var bundled = new List<NoteVerifier>();
            foreach (var line in keys!.Split('\n').Where(l => l.Trim().Length > 0))
            {
                if (!NoteVerifier.TryParse(line, out var verifier, out var error))
                {
                    return BundleReport.Failure(0, $"{AuditBundle.KeyEntry}: {error}");
                }

                bundled.Add(verifier!);
            }

            verifiers = bundled;
        }

        var opened = SignedNote.Open(note!, verifiers);
        if (!opened.Valid)
        {
            return BundleReport.Failure(0, $"{AuditBundle.CheckpointEntry}: {opened.ErrorCode}: {opened.Error}");
        }

        var checkpoint = opened.Checkpoint!;
        var records = 0L;
        var pruned = 0L;
        var chunk = 0;
        var lastIndex = -1L;
        while (true)
        {
            var entry = reader.GetNextEntry();
            if (entry is null)
            {
                return BundleReport.Failure(records, $"the bundle ends without {AuditBundle.ManifestEntry}: it was truncated");
            }

            if (entry.Name == AuditBundle.ManifestEntry)
            {
                var manifestFailure = CheckManifest(entry, checkpoint, records, chunk);
                if (manifestFailure is not null)
                {
                    return BundleReport.Failure(records, manifestFailure);
                }

                return reader.GetNextEntry() is { } extra
                    ? BundleReport.Failure(records, $"unexpected entry '{extra.Name}' after {AuditBundle.ManifestEntry}")
                    : new BundleReport(true, records, checkpoint, trusted is null, null, null) { PrunedRecords = pruned };
            }

            if (entry.Name != AuditBundle.RecordsEntry(chunk))
            {
                return BundleReport.Failure(records, $"expected {AuditBundle.RecordsEntry(chunk)}, found '{entry.Name}'");
            }

            var leaves = Lines(ReadAll(entry));
            var proofsEntry = reader.GetNextEntry();
            if (proofsEntry?.Name != AuditBundle.ProofsEntry(chunk))
            {
                return BundleReport.Failure(records, $"expected {AuditBundle.ProofsEntry(chunk)} after {AuditBundle.RecordsEntry(chunk)}");
            }

            var proofs = Lines(ReadAll(proofsEntry));
            if (leaves.Count == 0 || proofs.Count == 0)
            {
                return BundleReport.Failure(records, $"chunk {chunk} has {leaves.Count} records but {proofs.Count} proofs");
            }

            // Line by line before the counts: a record line removed (its proof kept) fails at the index it had, where
            // "2 records but 3 proofs" named none.
            for (var i = 0; i < Math.Min(leaves.Count, proofs.Count); i++)
            {
                using var proofDocument = JsonDocument.Parse(proofs[i]);
                if (!TryReadProofLine(proofDocument.RootElement, out var index, out var path))
                {
                    return BundleReport.Failure(records,
                        $"{AuditBundle.ProofsEntry(chunk)} line {i + 1} is not {{\"index\":<n>,\"proof\":[<base64 hash>,…]}}");
                }

                if (index <= lastIndex || index >= checkpoint.Size)
                {
                    return BundleReport.Failure(records, $"record index {index} is out of order or not below the checkpoint size {checkpoint.Size}", index);
                }

                // A pruned record is only its leaf hash: the signed root still proves that hash, not any content.
                byte[] leafHash;
                if (PrunedExportLine.TryParse(leaves[i], out var prunedIndex, out var prunedHash))
                {
                    if (prunedIndex != index)
                    {
                        return BundleReport.Failure(records, $"record {index}: its pruned line names index {prunedIndex}", index);
                    }

                    leafHash = prunedHash;
                    pruned++;
                }
                else
                {
                    leafHash = MerkleHasher.HashLeaf(leaves[i]);
                }

                var root = InclusionProof.RootFromProof(index, checkpoint.Size, leafHash, path);
                if (root is null || !CryptographicOperations.FixedTimeEquals(root, checkpoint.Root))
                {
                    return BundleReport.Failure(records,
                        $"record {index}: its bytes and inclusion proof do not lead to the signed root of size {checkpoint.Size}: the record or its proof was altered", index);
                }

                lastIndex = index;
                records++;
            }

            if (leaves.Count != proofs.Count)
            {
                return BundleReport.Failure(records, $"chunk {chunk} has {leaves.Count} records but {proofs.Count} proofs");
            }

            chunk++;
        }
    }

    /// <summary>A proofs line the bundle format does not allow is a failure to report, never an exception out of the verifier.</summary>
    private static bool TryReadProofLine(JsonElement line, out long index, out List<byte[]> path)
    {
        index = -1;
        path = [];
        if (line.ValueKind != JsonValueKind.Object
            || !line.TryGetProperty("index", out var indexElement) || indexElement.ValueKind != JsonValueKind.Number || !indexElement.TryGetInt64(out index)
            || !line.TryGetProperty("proof", out var proofElement) || proofElement.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var hash in proofElement.EnumerateArray())
        {
            if (hash.ValueKind != JsonValueKind.String || !hash.TryGetBytesFromBase64(out var bytes) || bytes.Length != MerkleHasher.HashSize)
            {
                return false;
            }

            path.Add(bytes);
        }

        return true;
    }

    private static string? CheckManifest(TarEntry entry, Checkpoint checkpoint, long records, int chunks)
    {
        using var manifest = JsonDocument.Parse(ReadAll(entry));
        var root = manifest.RootElement;
        // A member missing or of another type is a manifest the format does not allow: report it, never throw out of the verifier.
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("treeSize", out var treeSize) || !TryGetInt64Number(treeSize, out var listedSize)
            || !root.TryGetProperty("records", out var recordsElement) || !TryGetInt64Number(recordsElement, out var listedRecords)
            || !root.TryGetProperty("chunks", out var chunksElement) || !TryGetInt64Number(chunksElement, out var listedChunks))
        {
            return $"{AuditBundle.ManifestEntry} is not {{\"format\":<string>,\"treeSize\":<n>,\"records\":<n>,\"chunks\":<n>}}";
        }

        if (format.GetString() != AuditBundle.Format)
        {
            return $"{AuditBundle.ManifestEntry}: not a {AuditBundle.Format} bundle";
        }

        if (listedSize != checkpoint.Size)
        {
            return $"{AuditBundle.ManifestEntry}: treeSize does not match the checkpoint size {checkpoint.Size}";
        }

        if (listedRecords != records || listedChunks != chunks)
        {
            return $"{AuditBundle.ManifestEntry}: it lists {listedRecords} records in {listedChunks} chunks, "
                + $"the bundle holds {records} in {chunks}: records were added or removed";
        }

        return null;
    }

    private static bool TryGetInt64Number(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }

    private static string? ReadText(TarReader reader, string name, out BundleReport? failure)
    {
        var entry = reader.GetNextEntry();
        if (entry?.Name != name)
        {
            failure = BundleReport.Failure(0, $"expected {name}, found '{entry?.Name ?? "end of archive"}'");
            return null;
        }

        failure = null;
        return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ReadAll(entry));
    }

    private static byte[] ReadAll(TarEntry entry)
    {
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
        {
            return entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile
                ? []
                : throw new InvalidDataException($"'{entry.Name}' is not a regular file");
        }

        using var buffer = new MemoryStream();
        entry.DataStream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Split on '\n' only: the leaf bytes are exact and must not be re-encoded. A final newline ends the last line.</summary>
    private static List<byte[]> Lines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                lines.Add(bytes[start..i]);
                start = i + 1;
            }
        }

        if (start < bytes.Length)
        {
            lines.Add(bytes[start..]);
        }

        return lines;
    }
}

/// <summary>The outcome of a bundle check; <see cref="UsedBundledKey"/> says the signature was checked with the bundle's own key.</summary>
public sealed record BundleReport(bool Valid, long RecordsChecked, Checkpoint? Checkpoint, bool UsedBundledKey, long? FirstBadIndex, string? Problem)
{
    /// <summary>Records present only as their leaf hash (pruned by retention or erasure): included, content no longer checkable.</summary>
    public long PrunedRecords { get; init; }

    internal static BundleReport Failure(long records, string problem, long? firstBadIndex = null) =>
        new(false, records, null, false, firstBadIndex, problem);
}
