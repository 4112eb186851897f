using System.Globalization;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;
using Edge.Audit.Storage;
using Edge.Audit.Tiles;

namespace Edge.Audit.Verification;

/// <summary>
/// Recomputes the tree from the leaves and checks every checkpoint against it: each signature must verify
/// with a known key and each checkpoint root must equal the recomputed root at its size. Since every
/// checkpoint is then a prefix root of the same leaf sequence, successive checkpoints are consistent.
/// Leaves are hashed as bytes whatever their schema (v1 plaintext subject, v2 encrypted subject); a pruned record
/// (retention, or erasure of a v1 record) has only its leaf hash left, which enters the tree as stored: the signed
/// roots still vouch for it, but its content can no longer be checked (counted in <see cref="VerificationReport.PrunedRecords"/>).
/// A store's tiles (what proofs and tlog clients are served from) must equal the tiles recomputed from its leaves; tiles
/// not built yet are no failure (the writer builds them at its next start), a differing one is.
/// </summary>
public static class LogVerifier
{
    public static VerificationReport VerifyStore(IAuditStore store, IReadOnlyCollection<NoteVerifier> verifiers)
    {
        ArgumentNullException.ThrowIfNull(store);
        var checkpoints = new List<(long Size, byte[] Root)>();
        foreach (var stored in store.Checkpoints())
        {
            var opened = SignedNote.Open(stored.Note, verifiers);
            if (!opened.Valid)
            {
                return VerificationReport.Failure(0, checkpoints.Count, null, $"checkpoint at size {stored.Size}: {opened.ErrorCode}: {opened.Error}");
            }

            if (opened.Checkpoint!.Size != stored.Size || !opened.Checkpoint.Root.AsSpan().SequenceEqual(stored.Root))
            {
                return VerificationReport.Failure(0, checkpoints.Count, null, $"checkpoint at size {stored.Size}: the signed note does not match its stored size/root");
            }

            checkpoints.Add((stored.Size, stored.Root));
        }

        // The leaves are read in one snapshot and the tiles after them, so a writer appending meanwhile (a live store) has
        // widened the last partial tiles, or filled them: they then hold more hashes than the records read, and were
        // reported as not matching (exit 1, "the log must not be trusted") on every verify of a store in use.
        return VerifyLeaves(store.ReadLeaves(), checkpoints, storedTiles: store.HasTiles() ? store.ReadTile : null, storeSize: store.Count,
            keyless: store.SubjectsWithoutKey);
    }

    /// <summary>Offline: leaves in index order (e.g. an NDJSON export from index 0) against one signed checkpoint.</summary>
    // An export line's hash is not stored anywhere to compare with (a store row's is); only this instance means that.
    private static readonly byte[] NoStoredHash = new byte[0];

    public static VerificationReport VerifyExport(IEnumerable<byte[]> leaves, string checkpointNote, IReadOnlyCollection<NoteVerifier> verifiers)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        var opened = SignedNote.Open(checkpointNote, verifiers);
        if (!opened.Valid)
        {
            return VerificationReport.Failure(0, 0, null, $"checkpoint: {opened.ErrorCode}: {opened.Error}");
        }

        var index = 0L;
        var stored = leaves.Select(leaf => PrunedExportLine.TryParse(leaf, out var prunedIndex, out var leafHash)
            ? new StoredLeaf(prunedIndex == index++ ? prunedIndex : -1, [], leafHash)
            // No stored hash to hold the record against: its hash, made once (in parallel) below, is checked by the roots.
            : new StoredLeaf(index++, leaf, NoStoredHash));
        return VerifyLeaves(stored, [(opened.Checkpoint!.Size, opened.Checkpoint.Root)], stopAtLastCheckpoint: true);
    }

    private static VerificationReport VerifyLeaves(
        IEnumerable<StoredLeaf> leaves, List<(long Size, byte[] Root)> checkpoints, bool stopAtLastCheckpoint = false,
        Func<int, long, Tile?>? storedTiles = null, Func<long>? storeSize = null, Func<IReadOnlyList<(long SubjectId, long LastIndex)>>? keyless = null)
    {
        var range = new CompactRange();
        var tiles = storedTiles is null ? null : new TileEdge();
        var next = 0;
        var checkedCheckpoints = 0;
        var pruned = 0L;
        var beyond = 0L;
        var coverage = new PruneCoverage.Tracker();
        // Before the leaves: a key shredded after this read is not in the list, and one shredded before it committed with
        // its record, which the leaves read next then hold. Read after them, a live store failed for a key shredded between.
        var keylessSubjects = keyless?.Invoke();

        VerificationReport? CheckBoundary()
        {
            while (next < checkpoints.Count && checkpoints[next].Size == range.Size)
            {
                if (!range.Root().AsSpan().SequenceEqual(checkpoints[next].Root))
                {
                    // An export's lines carry no stored hash or index: "first bad index 0" named a record that was intact.
                    if (stopAtLastCheckpoint)
                    {
                        return VerificationReport.Failure(range.Size, checkedCheckpoints, null,
                            $"the {range.Size} lines up to the checkpoint's size do not lead to its signed root (size {range.Size}): a line was altered, added, removed or reordered, "
                            + "or the export is filtered (only an unfiltered export from index 0 verifies this way); an NDJSON export carries no per-record proof, "
                            + "so one signed root cannot say which line: export a bundle of the same records (each proven on its own) to find it");
                    }

                    var previous = next == 0 ? 0 : checkpoints[next - 1].Size;
                    return VerificationReport.Failure(range.Size, checkedCheckpoints, previous,
                        $"the root at size {range.Size} does not match its signed checkpoint: a record in [{previous}, {range.Size}) was altered");
                }

                next++;
                checkedCheckpoints++;
            }

            return null;
        }

        if (CheckBoundary() is { } emptyFailure)
        {
            return emptyFailure;
        }

        // The level-0 tiles hold every leaf hash at its index, written with the record: a row moved, or rewritten with its
        // stored hash, is found at its index. Without them only the covering checkpoint's interval could be named.
        Tile? level0 = null;
        var level0Index = -1L;
        ReadOnlySpan<byte> StoredLeafHash(long index)
        {
            if (index >> Tile.Height != level0Index)
            {
                level0Index = index >> Tile.Height;
                level0 = storedTiles!(0, level0Index);
            }

            var position = (int)(index & (Tile.FullWidth - 1));
            return level0 is null || position >= level0.Width ? default : level0.Hash(position);
        }

        // The full level-0 tile just read for its leaves is the one the full-tile check compares: read once, not twice.
        Tile? FullTileRead(int level, long index) =>
            level == 0 && index == level0Index && level0 is { IsFull: true } ? level0 : storedTiles!(level, index);

        foreach (var (leaf, hash) in HashInParallel(leaves))
        {
            if (stopAtLastCheckpoint && next == checkpoints.Count)
            {
                // Counted, not checked: reported as "OK: N records" alone, a file with more lines (a forged record
                // appended, or one newer than the checkpoint) read as wholly verified.
                beyond++;
                if (leaf.Bytes.Length > 0)
                {
                    coverage.RecordUnchecked(leaf.Index, leaf.Bytes);
                }

                continue;
            }

            if (leaf.Index != range.Size)
            {
                return VerificationReport.Failure(range.Size, checkedCheckpoints, range.Size, $"record index {range.Size} is missing");
            }

            if (leaf.Bytes.Length == 0)
            {
                pruned++;
                coverage.Pruned(leaf.Index);
            }
            else if (!ReferenceEquals(leaf.StoredHash, NoStoredHash) && !hash.AsSpan().SequenceEqual(leaf.StoredHash))
            {
                return VerificationReport.Failure(range.Size, checkedCheckpoints, leaf.Index, $"record {leaf.Index} does not match the leaf hash recorded when it was appended");
            }
            else if (leaf.Columns is { } columns && ColumnMismatch(leaf.Bytes, columns) is { } column)
            {
                return VerificationReport.Failure(range.Size, checkedCheckpoints, leaf.Index,
                    $"record {leaf.Index}: its stored {column} column does not match its leaf: the store was edited outside the writer (searches, tenant confinement and listings read that column)");
            }

            if (storedTiles is not null && StoredLeafHash(leaf.Index) is { IsEmpty: false } tileHash && !tileHash.SequenceEqual(hash))
            {
                return VerificationReport.Failure(range.Size, checkedCheckpoints, leaf.Index,
                    $"the stored {TilePath.Format(new TileAddress(false, 0, leaf.Index >> Tile.Height, Tile.FullWidth))} does not match the records it covers at index {leaf.Index}: "
                    + $"record {leaf.Index} is not the leaf the tile holds there (a record altered with its stored hash, moved or replaced, or the tile altered)");
            }

            if (leaf.Bytes.Length > 0)
            {
                coverage.Record(leaf.Index, leaf.Bytes);
            }

            range.AppendLeafHash(hash);
            if (CheckBoundary() is { } failure)
            {
                return failure;
            }

            if (tiles is not null)
            {
                tiles.AppendLeafHash(hash);
                // A tile completes only when the size is a multiple of 256; the partials are compared at the end.
                if (tiles.Size % Tile.FullWidth == 0 && CheckTiles(tiles.TakeChanges().FullTiles, FullTileRead, range.Size, checkedCheckpoints) is { } tileFailure)
                {
                    return tileFailure;
                }
            }
        }

        // Before the partial tiles: a record deleted at the end left them wider than the records, reported as a tile that
        // does not match "from index 0" instead of the missing index.
        if (next < checkpoints.Count)
        {
            return stopAtLastCheckpoint
                ? VerificationReport.Failure(range.Size, checkedCheckpoints, null,
                    $"the checkpoint covers {checkpoints[next].Size} records but the export holds only {range.Size} lines: a line was removed, the export was cut short, or it is filtered (only an unfiltered export from index 0 verifies this way; verify a selection as a bundle)")
                : VerificationReport.Failure(range.Size, checkedCheckpoints, range.Size,
                    $"a checkpoint covers {checkpoints[next].Size} records but only {range.Size} are present");
        }

        var verifiedSize = range.Size;
        if (tiles is not null
            && CheckTiles(tiles.PartialTiles(), storedTiles!, range.Size, checkedCheckpoints, grew: () => storeSize?.Invoke() > verifiedSize) is { } partialFailure)
        {
            return partialFailure;
        }

        // The leaf hash vouches for a pruned record's inclusion, not for why its body is gone: only a record the writer
        // committed with the prune says it was retention or erasure, and not someone emptying the row in the store.
        if (coverage.FirstUncovered() is { } uncovered)
        {
            return VerificationReport.Failure(range.Size, checkedCheckpoints, uncovered,
                $"record {uncovered} is pruned, but no retention or erasure record names it: it was pruned outside the writer (by hand in the store, or by a tool), not by policy");
        }

        // PostgreSQL never prunes a body: retention and erasure delete data keys, and a record keeps its subject id. A key
        // deleted in the database by hand made records unreadable as retention does, with nothing to say it was not.
        if (keylessSubjects is not null && coverage.FirstUnexplainedKeyless(keylessSubjects) is { } subject)
        {
            return VerificationReport.Failure(range.Size, checkedCheckpoints, subject.LastIndex,
                $"subject {subject.SubjectId} (records up to index {subject.LastIndex}) has no data key, but no retention or erasure record names it: its key was deleted outside the writer (by hand in the database, or by a tool), not by policy");
        }

        return new VerificationReport(true, range.Size, checkedCheckpoints, null, null)
        {
            PrunedRecords = pruned, UncheckedRecords = beyond, UnattributedPrunedRecords = coverage.Unattributed,
            PrunedNamedOnlyAfterCheckpoint = coverage.NamedOnlyUnchecked,
        };
    }

    /// <summary>
    /// The first indexed column that differs from what the leaf says, or null. The tree covers only the leaf: a column
    /// rewritten with the triggers dropped (a deny listed as allow, a record moved to another tenant) verified before.
    /// </summary>
    private static string? ColumnMismatch(byte[] leaf, StoredColumns columns)
    {
        try
        {
            using var document = JsonDocument.Parse(leaf);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return "record_id";
            }

            var data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            string? Data(string name) => data.ValueKind == JsonValueKind.Object ? GetString(data, name) : null;
            if (!string.Equals(GetString(root, "id"), columns.Id, StringComparison.Ordinal))
            {
                return "record_id";
            }

            if (!DateTimeOffset.TryParse(GetString(root, "time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
                || time.ToUnixTimeMilliseconds() != columns.TimeMs)
            {
                return "time_ms";
            }

            if (!string.Equals(GetString(root, "tenant"), columns.Tenant, StringComparison.Ordinal))
            {
                return "tenant";
            }

            if (!string.Equals(Data("route"), columns.Route, StringComparison.Ordinal))
            {
                return "route";
            }

            if (!string.Equals(Data("decision"), columns.Decision, StringComparison.Ordinal))
            {
                return "decision";
            }

            if (!string.Equals(Data("reason"), columns.Reason, StringComparison.Ordinal))
            {
                return "reason";
            }

            if (columns.HasPrincipal)
            {
                // Only a plaintext (v1) subject has a principal column; a protected one is searched by its blind index.
                var subject = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("subject", out var s) && s.ValueKind == JsonValueKind.Object ? s : default;
                var plaintext = subject.ValueKind == JsonValueKind.Object && GetString(subject, "protection") is null or "none";
                var principal = plaintext ? GetString(subject, "principal") : null;
                if (!string.Equals(principal, columns.Principal, StringComparison.Ordinal))
                {
                    return "principal";
                }
            }

            return null;
        }
        catch (JsonException)
        {
            return "record_id";
        }
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static VerificationReport? CheckTiles(
        IEnumerable<Tile> computed, Func<int, long, Tile?> storedTiles, long records, int checkpoints, Func<bool>? grew = null)
    {
        foreach (var tile in computed.Where(t => t.Width > 0))
        {
            var stored = storedTiles(tile.Level, tile.Index);
            if (stored is null)
            {
                continue;
            }

            // A stored partial may lag (tiles still to be built) but must be a prefix; a full one must be equal.
            // Wider is allowed only when the log grew after its records were read (the hashes past them are of records
            // this run did not read; the next run checks them); the hashes of the records read must match either way.
            var width = Math.Min(stored.Width, tile.Width);
            if ((stored.Width > tile.Width && grew?.Invoke() != true)
                || !stored.Hashes.AsSpan(0, width * MerkleHasher.HashSize).SequenceEqual(tile.Hashes.AsSpan(0, width * MerkleHasher.HashSize)))
            {
                var first = tile.Index << (Tile.Height * (tile.Level + 1));
                return VerificationReport.Failure(records, checkpoints, first,
                    $"the stored {TilePath.Format(new TileAddress(false, tile.Level, tile.Index, Tile.FullWidth))} does not match the records it covers (from index {first}); proofs served from it would be wrong");
            }
        }

        return null;
    }

    /// <summary>Leaf hashing is the bulk of the work and independent per leaf: hash blocks on all cores, in order.</summary>
    private static IEnumerable<(StoredLeaf Leaf, byte[] Hash)> HashInParallel(IEnumerable<StoredLeaf> leaves)
    {
        const int BlockSize = 4096;
        var block = new List<StoredLeaf>(BlockSize);
        var hashes = new byte[BlockSize][];
        foreach (var leaf in leaves)
        {
            block.Add(leaf);
            if (block.Count == BlockSize)
            {
                foreach (var item in Flush())
                {
                    yield return item;
                }
            }
        }

        foreach (var item in Flush())
        {
            yield return item;
        }

        IEnumerable<(StoredLeaf, byte[])> Flush()
        {
            var count = block.Count;
            // A pruned leaf has no bytes left; its stored hash is all there is (the checkpoint roots check it).
            Parallel.For(0, count, i => hashes[i] = block[i].Bytes.Length == 0 ? block[i].StoredHash : MerkleHasher.HashLeaf(block[i].Bytes));
            var result = new (StoredLeaf, byte[])[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = (block[i], hashes[i]);
            }

            block.Clear();
            return result;
        }
    }
}

/// <summary>The outcome of a verification. <see cref="FirstBadIndex"/> is the first record index found bad, when known.</summary>
public sealed record VerificationReport(bool Valid, long RecordsChecked, int CheckpointsChecked, long? FirstBadIndex, string? Problem)
{
    /// <summary>Records present only as their leaf hash (pruned by retention or erasure).</summary>
    public long PrunedRecords { get; init; }

    /// <summary>
    /// Pruned records older than the last retention or erasure record of a writer that named no indices (before
    /// per-batch retention records): accepted, since such a writer recorded only counts, but not attributed to a record.
    /// </summary>
    public long UnattributedPrunedRecords { get; init; }

    /// <summary>
    /// Pruned records of an export named only by a retention or erasure line after the checkpoint's size: that line is not
    /// checked (no signed root covers it), so verify against a newer checkpoint to check why they were pruned.
    /// </summary>
    public long PrunedNamedOnlyAfterCheckpoint { get; init; }

    /// <summary>Export lines after the checkpoint's size: no signed root covers them, so nothing about them was checked.</summary>
    public long UncheckedRecords { get; init; }

    internal static VerificationReport Failure(long records, int checkpoints, long? firstBadIndex, string problem) =>
        new(false, records, checkpoints, firstBadIndex, problem);
}
