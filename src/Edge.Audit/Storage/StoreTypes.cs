using Edge.Audit.Merkle;
using Edge.Audit.Records;

namespace Edge.Audit.Storage;

public sealed record PendingLeaf(byte[] Bytes, LeafSummary Summary)
{
    private byte[]? _hash;

    /// <summary>The RFC 9162 leaf hash, computed on first use: an edge's plaintext leaf is replaced by its v2 form before it is hashed.</summary>
    public byte[] Hash => _hash ??= MerkleHasher.HashLeaf(Bytes);

    /// <summary>The subject whose data key encrypts this leaf's personal fields (v2), if any.</summary>
    public long? SubjectId { get; init; }

    /// <summary>Where the members the writer rewrites sit in <see cref="Bytes"/>, from the parse that validated them; null when not parsed yet.</summary>
    public LeafLayout? Layout { get; init; }
}

public sealed record StoredSubject(long Id, byte[] WrappedKey);

public sealed record StoredSubjectKey(byte[] Blind, string Tenant, byte[] WrappedKey);

public sealed record StoredLeaf(long Index, byte[] Bytes, byte[] StoredHash)
{
    /// <summary>The record's indexed columns as stored beside the leaf (null where the source has none, e.g. an export).</summary>
    public StoredColumns? Columns { get; init; }
}

/// <summary>
/// What a store keeps of a record outside its leaf, for searches, tenant confinement and listings. The signed tree
/// covers only the leaf, so a verifier compares these with it. <see cref="HasPrincipal"/>: the store has a plaintext
/// principal column (SQLite, for v1 records).
/// </summary>
public sealed record StoredColumns(string Id, long TimeMs, string? Tenant, string? Route, string? Decision, string? Reason, bool HasPrincipal, string? Principal);

public sealed record StoredCheckpoint(long Size, byte[] Root, string Note);

/// <summary>A stored record. <see cref="Leaf"/> is empty once pruned; <see cref="SubjectId"/> is null when it has no (longer a) data key.</summary>
public sealed record StoredRecord(
    long Index, string Id, DateTimeOffset Time, string? Tenant, string? Principal, string? Route, string? Decision, string? Reason, byte[] Leaf,
    byte[] LeafHash, long? SubjectId)
{
    public bool Pruned => Leaf.Length == 0;
}

public sealed record RecordQuery
{
    /// <summary>The record id (the X-Request-Id the client got); at most one record matches.</summary>
    public string? Id { get; init; }
    public string? Tenant { get; init; }
    public string? Principal { get; init; }

    /// <summary>The keyed blind index of <see cref="Principal"/>, which finds v2 records (their principal is encrypted).</summary>
    public byte[]? PrincipalBlind { get; init; }
    public string? Route { get; init; }
    public string? Decision { get; init; }
    public string? Reason { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    public long? Before { get; init; }

    /// <summary>An exclusive lower index bound: the cursor of an oldest-first query.</summary>
    public long? After { get; init; }

    /// <summary>Oldest first (by index, which follows arrival time) instead of newest first.</summary>
    public bool Ascending { get; init; }
    public int Limit { get; init; } = 100;

    /// <summary>
    /// Stops reading rows once their leaves add up to more than this many bytes (the row that crosses it is the last one
    /// returned), so a page of large records never loads <see cref="Limit"/> of them; null reads up to <see cref="Limit"/>.
    /// A page cut this way can hold fewer than <see cref="Limit"/> rows while more match.
    /// </summary>
    public long? MaxLeafBytes { get; init; }
}

internal static class RecordPages
{
    /// <summary>The rows up to <see cref="RecordQuery.MaxLeafBytes"/> (see there), read lazily from <paramref name="rows"/>.</summary>
    public static List<StoredRecord> Take(IEnumerable<StoredRecord> rows, RecordQuery query)
    {
        var page = new List<StoredRecord>(Math.Min(query.Limit, 128));
        var leafBytes = 0L;
        foreach (var row in rows)
        {
            page.Add(row);
            leafBytes += row.Leaf.Length;
            if (leafBytes > query.MaxLeafBytes)
            {
                break;
            }
        }

        return page;
    }
}

/// <summary>
/// One retention step inside an append transaction: <see cref="Records"/> made unreadable, and what it deleted, ascending:
/// on SQLite the indices of the records pruned to their leaf hash, on PostgreSQL the ids of the subjects whose data keys
/// were shredded (bodies are never pruned there).
/// </summary>
public sealed record PruneStep(int Records, IReadOnlyList<long> Deleted);

/// <summary>An erasure inside an append transaction: records made unreadable, and the v1 records it pruned (ascending).</summary>
public sealed record ErasureStep(long Records, IReadOnlyList<long> PrunedIndices)
{
    /// <summary>PostgreSQL: the ids of the subjects whose data keys it deleted (their records keep the id); empty on SQLite.</summary>
    public IReadOnlyList<long> DeletedSubjects { get; init; } = [];
}
