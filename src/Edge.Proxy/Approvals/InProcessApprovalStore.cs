using System.Collections.Concurrent;

namespace Edge.Proxy.Approvals;

/// <summary>
/// The approval store of a single edge (no <c>Edge:Redis</c>). Each approval is one entry whose state changes under its
/// own lock, so two concurrent retries with one token consume it once. Bounded: past <see cref="Capacity"/> entries,
/// those no longer kept go first, then the oldest.
/// </summary>
internal sealed class InProcessApprovalStore(int capacity = InProcessApprovalStore.DefaultCapacity) : IApprovalStore
{
    public const int DefaultCapacity = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _byRequest = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();

    public int Capacity => capacity;

    public ValueTask CreateAsync(ApprovalRequest request, DateTimeOffset retainUntil, DateTimeOffset now)
    {
        if (_entries.Count >= capacity)
        {
            Trim(now);
        }

        _entries[request.Id] = new Entry(request, retainUntil);
        _byRequest[request.RequestHash] = request.Id;
        return ValueTask.CompletedTask;
    }

    public ValueTask<ApprovalRequest?> GetAsync(string id) => ValueTask.FromResult(Read(id));

    public ValueTask<ApprovalRequest?> FindByRequestAsync(string requestHash) =>
        ValueTask.FromResult(_byRequest.TryGetValue(requestHash, out var id) ? Read(id) : null);

    public ValueTask<IReadOnlyList<ApprovalRequest>> ListAsync(string? tenant)
    {
        var list = new List<ApprovalRequest>();
        foreach (var (_, entry) in _entries)
        {
            var request = entry.Snapshot();
            if (string.Equals(request.Tenant, tenant, StringComparison.Ordinal))
            {
                list.Add(request);
            }
        }

        list.Sort((a, b) => b.CreatedAt.CompareTo(a.CreatedAt));
        return ValueTask.FromResult<IReadOnlyList<ApprovalRequest>>(list);
    }

    public ValueTask<DecideOutcome> ApproveAsync(string id, string approver, string tokenHash, DateTimeOffset now, DateTimeOffset tokenExpiresAt, DateTimeOffset retainUntil)
    {
        if (!_entries.TryGetValue(id, out var entry))
        {
            return ValueTask.FromResult(DecideOutcome.NotFound);
        }

        lock (entry.Gate)
        {
            var request = entry.Request;
            if (request.Status != ApprovalStatus.Pending)
            {
                return ValueTask.FromResult(DecideOutcome.AlreadyDecided);
            }

            if (request.ExpiresAt <= now)
            {
                return ValueTask.FromResult(DecideOutcome.Expired);
            }

            entry.Request = request with
            {
                Status = ApprovalStatus.Approved,
                Approver = approver,
                DecidedAt = now,
                TokenHash = tokenHash,
                TokenExpiresAt = tokenExpiresAt,
            };
            entry.RetainUntil = retainUntil;
            return ValueTask.FromResult(DecideOutcome.Decided);
        }
    }

    public ValueTask<DecideOutcome> RejectAsync(string id, string approver, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(id, out var entry))
        {
            return ValueTask.FromResult(DecideOutcome.NotFound);
        }

        lock (entry.Gate)
        {
            var request = entry.Request;
            if (request.Status is ApprovalStatus.Rejected or ApprovalStatus.Consumed)
            {
                return ValueTask.FromResult(DecideOutcome.AlreadyDecided);
            }

            if (request.Status == ApprovalStatus.Pending && request.ExpiresAt <= now)
            {
                return ValueTask.FromResult(DecideOutcome.Expired);
            }

            entry.Request = request with { Status = ApprovalStatus.Rejected, Approver = approver, DecidedAt = now };
            return ValueTask.FromResult(DecideOutcome.Decided);
        }
    }

    public ValueTask<ConsumeOutcome> ConsumeAsync(string id, string tokenHash, string requestHash, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(id, out var entry))
        {
            return ValueTask.FromResult(ConsumeOutcome.Invalid);
        }

        lock (entry.Gate)
        {
            var outcome = ApprovalRules.Consume(entry.Request, tokenHash, requestHash, now);
            if (outcome == ConsumeOutcome.Consumed)
            {
                entry.Request = entry.Request with { Status = ApprovalStatus.Consumed };
            }

            return ValueTask.FromResult(outcome);
        }
    }

    private ApprovalRequest? Read(string id) => _entries.TryGetValue(id, out var entry) ? entry.Snapshot() : null;

    private void Trim(DateTimeOffset now)
    {
        lock (_trimLock)
        {
            if (_entries.Count < capacity)
            {
                return;
            }

            foreach (var (id, entry) in _entries)
            {
                if (entry.RetainUntil <= now)
                {
                    Remove(id);
                }
            }

            var excess = _entries.Count - (capacity * 9 / 10);
            foreach (var (id, _) in _entries.OrderBy(e => e.Value.Snapshot().CreatedAt).Take(Math.Max(excess, 0)).ToList())
            {
                Remove(id);
            }
        }
    }

    private void Remove(string id)
    {
        if (_entries.TryRemove(id, out var removed))
        {
            _byRequest.TryRemove(new KeyValuePair<string, string>(removed.Snapshot().RequestHash, id));
        }
    }

    private sealed class Entry(ApprovalRequest request, DateTimeOffset retainUntil)
    {
        public Lock Gate { get; } = new();

        public ApprovalRequest Request { get; set; } = request;

        public DateTimeOffset RetainUntil { get; set; } = retainUntil;

        public ApprovalRequest Snapshot()
        {
            lock (Gate)
            {
                return Request;
            }
        }
    }
}
