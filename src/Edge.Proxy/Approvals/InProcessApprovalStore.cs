using System.Collections.Concurrent;

namespace Edge.Proxy.Approvals;

/// <summary>
/// The approval store of a single edge (no <c>Edge:Redis</c>). Each approval is one entry whose state changes under its
/// own lock, so two concurrent retries with one token consume it once. Bounded: at <see cref="Capacity"/> entries,
/// those past their retention go first, then the oldest of those that no longer decide a request (used, rejected,
/// expired). A live approval (pending, or approved with an unused token) is never evicted: evicting the oldest made one
/// requester flooding distinct requests able to drop other tenants' approved tokens. When only live ones are left, a new
/// request is refused (<see cref="ApprovalStoreFullException"/>).
/// </summary>
internal sealed class InProcessApprovalStore(int capacity = InProcessApprovalStore.DefaultCapacity) : IApprovalStore
{
    public const int DefaultCapacity = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _byRequest = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();

    // While full of live approvals, a scan can free nothing before the earliest of them expires or one is decided: a
    // requester flooding new requests then costs a comparison each, not a scan of the whole store.
    private DateTimeOffset _nothingToTrimUntil = DateTimeOffset.MinValue;
    private int _settledSinceTrim;

    public int Capacity => capacity;

    public ValueTask CreateAsync(ApprovalRequest request, DateTimeOffset retainUntil, DateTimeOffset now)
    {
        if (_entries.Count >= capacity)
        {
            Trim(now);
            if (_entries.Count >= capacity)
            {
                throw new ApprovalStoreFullException(capacity);
            }
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
            Interlocked.Increment(ref _settledSinceTrim);
            return ValueTask.FromResult(DecideOutcome.Decided);
        }
    }

    public ValueTask<(ConsumeOutcome Outcome, ApprovalRequest? Approval)> ConsumeAsync(string id, string tokenHash, string requestHash, DateTimeOffset now)
    {
        if (!_entries.TryGetValue(id, out var entry))
        {
            return ValueTask.FromResult<(ConsumeOutcome, ApprovalRequest?)>((ConsumeOutcome.Invalid, null));
        }

        lock (entry.Gate)
        {
            var outcome = ApprovalRules.Consume(entry.Request, tokenHash, requestHash, now);
            if (outcome == ConsumeOutcome.Consumed)
            {
                entry.Request = entry.Request with { Status = ApprovalStatus.Consumed };
                Interlocked.Increment(ref _settledSinceTrim);
            }

            return ValueTask.FromResult<(ConsumeOutcome, ApprovalRequest?)>((outcome, entry.Request));
        }
    }

    private ApprovalRequest? Read(string id) => _entries.TryGetValue(id, out var entry) ? entry.Snapshot() : null;

    private void Trim(DateTimeOffset now)
    {
        lock (_trimLock)
        {
            if (_entries.Count < capacity || (now < _nothingToTrimUntil && Volatile.Read(ref _settledSinceTrim) == 0))
            {
                return;
            }

            Interlocked.Exchange(ref _settledSinceTrim, 0);

            foreach (var (id, entry) in _entries)
            {
                if (entry.RetainUntil <= now)
                {
                    Remove(id);
                }
            }

            var excess = _entries.Count - (capacity * 9 / 10);
            if (excess <= 0)
            {
                return;
            }

            var settled = new List<(DateTimeOffset CreatedAt, string Id)>();
            var earliestExpiry = DateTimeOffset.MaxValue;
            foreach (var (id, entry) in _entries)
            {
                var request = entry.Snapshot();
                if (!IsLive(request, now))
                {
                    settled.Add((request.CreatedAt, id));
                }
                else
                {
                    var expires = request.Status == ApprovalStatus.Approved ? request.TokenExpiresAt ?? DateTimeOffset.MaxValue : request.ExpiresAt;
                    earliestExpiry = expires < earliestExpiry ? expires : earliestExpiry;
                }
            }

            _nothingToTrimUntil = settled.Count == 0 ? earliestExpiry : DateTimeOffset.MinValue;

            settled.Sort((a, b) => a.CreatedAt.CompareTo(b.CreatedAt));
            for (var i = 0; i < settled.Count && i < excess; i++)
            {
                Remove(settled[i].Id);
            }
        }
    }

    /// <summary>True while the approval still decides a request: pending within its TTL, or approved with an unused, unexpired token.</summary>
    private static bool IsLive(ApprovalRequest request, DateTimeOffset now) => request.Status switch
    {
        ApprovalStatus.Pending => request.ExpiresAt > now,
        ApprovalStatus.Approved => request.TokenExpiresAt is not { } expires || expires > now,
        _ => false,
    };

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
