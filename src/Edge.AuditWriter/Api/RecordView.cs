using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Protection;

namespace Edge.AuditWriter.Api;

/// <summary>
/// What readers see of stored records: the committed leaf (for proofs), its hash, whether it was pruned, and the
/// record with its subject decrypted, or marked <c>{"protection":"erased"}</c> once its key is gone.
/// One instance per request; it caches the data keys it unwrapped, at most <c>keyCapacity</c> of them (a CSV export
/// reads every record through one view, and anonymous requests have a subject per client address), and wipes them when
/// it drops them and on dispose.
/// </summary>
internal sealed class RecordView(AuditLog log, int keyCapacity = RecordView.DefaultKeyCapacity) : IDisposable
{
    /// <summary>About 100 bytes each: a few MB at most, where an export over millions of subjects held them all.</summary>
    public const int DefaultKeyCapacity = 16_384;

    private readonly Dictionary<long, byte[]?> _keys = [];

    internal int CachedKeys => _keys.Count;

    public object ToJson(StoredRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var (view, principal) = Reveal(record);
        return new
        {
            index = record.Index,
            id = record.Id,
            // The record's own time (the store keeps milliseconds), so it can be given back as from/to exactly.
            time = RecordTime.Format(view?["time"] is JsonValue value && value.TryGetValue<string>(out var text) && Rfc3339.TryParseDateTime(text, out var exact) ? exact : record.Time),
            tenant = record.Tenant,
            principal,
            route = record.Route,
            decision = record.Decision,
            reason = record.Reason,
            leaf = record.Pruned ? null : Convert.ToBase64String(record.Leaf),
            leafHash = Convert.ToBase64String(record.LeafHash),
            pruned = record.Pruned,
            record = view,
        };
    }

    /// <summary>The readable principal: decrypted (v2), as stored (v1), or null when erased or pruned.</summary>
    public string? Principal(StoredRecord record) => Reveal(record).Principal;

    /// <summary>The principal as a person reads it (CSV, viewer): decrypted or as stored, else <c>(erased)</c> or <c>(pruned)</c>.</summary>
    public string? DisplayPrincipal(StoredRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Pruned)
        {
            return "(pruned)";
        }

        var (view, principal) = Reveal(record);
        if (principal is not null)
        {
            return principal;
        }

        // A subject that opened (protection still names the cipher) and has no principal is an unauthenticated
        // request: its principal cell is empty, not the cipher's name.
        // Pattern matching, not the node indexers: CloudEvents data may be any JSON value ("x", [1]), and a JsonValue's
        // or JsonArray's string indexer throws, which ended a CSV export (already answered 200) at that record.
        return view?["data"] is JsonObject data && data["subject"] is JsonObject subject
            && subject["protection"] is JsonValue protection && protection.TryGetValue<string>(out var kind)
            && kind is not ("none" or SubjectProtector.Algorithm)
            ? "(" + kind + ")"
            : null;
    }

    private (JsonObject? Record, string? Principal) Reveal(StoredRecord record)
    {
        if (record.Pruned)
        {
            return (null, null);
        }

        var dataKey = record.SubjectId is { } subject ? Key(subject) : null;
        var (view, principal) = SubjectProtector.Reveal(record.Leaf, record.Id, dataKey);
        return (view, principal ?? record.Principal);
    }

    private byte[]? Key(long subjectId)
    {
        if (!_keys.TryGetValue(subjectId, out var key))
        {
            if (_keys.Count >= keyCapacity)
            {
                // Records come in index order, where a subject's records cluster in time: starting afresh costs one unwrap
                // per subject still to come, not per record.
                Clear();
            }

            key = log.DataKey(subjectId);
            _keys[subjectId] = key;
        }

        return key;
    }

    private void Clear()
    {
        foreach (var key in _keys.Values)
        {
            if (key is not null)
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }

        _keys.Clear();
    }

    public void Dispose() => Clear();
}
