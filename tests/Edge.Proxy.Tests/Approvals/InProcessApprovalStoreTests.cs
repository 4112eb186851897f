using Edge.Proxy.Approvals;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Approvals;

public sealed class InProcessApprovalStoreTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 1, 0, 0, TimeSpan.Zero));
    private readonly InProcessApprovalStore _store = new();

    [Fact]
    public async Task Consume_ApprovedToken_ConsumedOnceThenInvalid()
    {
        var (request, hash) = await CreateApprovedAsync();

        var first = (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome;
        var second = (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome;

        Assert.Equal(ConsumeOutcome.Consumed, first);
        Assert.Equal(ConsumeOutcome.Invalid, second);
        Assert.Equal(ApprovalStatus.Consumed, (await _store.GetAsync(request.Id))!.Status);
    }

    [Fact]
    public async Task Consume_OtherRequestHash_MismatchAndTokenStaysUsable()
    {
        var (request, hash) = await CreateApprovedAsync();

        var mismatch = (await _store.ConsumeAsync(request.Id, hash, new string('f', 64), _time.GetUtcNow())).Outcome;
        var consumed = (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome;

        Assert.Equal(ConsumeOutcome.Mismatch, mismatch);
        Assert.Equal(ConsumeOutcome.Consumed, consumed);
    }

    [Fact]
    public async Task Consume_WrongTokenHash_InvalidEvenForAMismatchedRequest()
    {
        var (request, _) = await CreateApprovedAsync();

        var outcome = (await _store.ConsumeAsync(request.Id, new string('0', 64), new string('f', 64), _time.GetUtcNow())).Outcome;

        Assert.Equal(ConsumeOutcome.Invalid, outcome);
        Assert.Equal(ApprovalStatus.Approved, (await _store.GetAsync(request.Id))!.Status);
    }

    [Fact]
    public async Task Consume_AtTokenExpiry_Expired()
    {
        var (request, hash) = await CreateApprovedAsync();

        _time.Advance(Ttl);
        var outcome = (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome;

        Assert.Equal(ConsumeOutcome.Expired, outcome);
    }

    [Fact]
    public async Task Approve_AfterRequestTtl_ExpiredAndStaysPending()
    {
        var request = NewRequest();
        await _store.CreateAsync(request, request.ExpiresAt + Ttl, _time.GetUtcNow());

        _time.Advance(Ttl + TimeSpan.FromMilliseconds(1));
        var outcome = await _store.ApproveAsync(request.Id, "bob", new string('a', 64), _time.GetUtcNow(), _time.GetUtcNow() + Ttl, _time.GetUtcNow() + Ttl + Ttl);

        Assert.Equal(DecideOutcome.Expired, outcome);
        Assert.Equal(ApprovalStatus.Pending, (await _store.GetAsync(request.Id))!.Status);
    }

    [Fact]
    public async Task Reject_ApprovedRequest_TokenAnswersRejected()
    {
        var (request, hash) = await CreateApprovedAsync();

        var reject = await _store.RejectAsync(request.Id, "carol", _time.GetUtcNow());
        var consume = (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome;
        var rejectAgain = await _store.RejectAsync(request.Id, "carol", _time.GetUtcNow());

        Assert.Equal(DecideOutcome.Decided, reject);
        Assert.Equal(ConsumeOutcome.Rejected, consume);
        Assert.Equal(DecideOutcome.AlreadyDecided, rejectAgain);
    }

    [Fact]
    public async Task Approve_Twice_SecondIsAlreadyDecided()
    {
        var (request, _) = await CreateApprovedAsync();

        var again = await _store.ApproveAsync(request.Id, "dave", new string('b', 64), _time.GetUtcNow(), _time.GetUtcNow() + Ttl, _time.GetUtcNow() + Ttl + Ttl);

        Assert.Equal(DecideOutcome.AlreadyDecided, again);
        Assert.Equal("bob", (await _store.GetAsync(request.Id))!.Approver);
    }

    [Fact]
    public async Task Consume_ParallelCallers_ExactlyOneConsumes()
    {
        var (request, hash) = await CreateApprovedAsync();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
            (await _store.ConsumeAsync(request.Id, hash, request.RequestHash, _time.GetUtcNow())).Outcome)));

        Assert.Equal(1, outcomes.Count(o => o == ConsumeOutcome.Consumed));
        Assert.Equal(63, outcomes.Count(o => o == ConsumeOutcome.Invalid));
    }

    [Fact]
    public async Task List_OtherTenant_NotIncluded()
    {
        var acme = NewRequest();
        var globex = NewRequest() with { Tenant = "globex" };
        await _store.CreateAsync(acme, acme.ExpiresAt, _time.GetUtcNow());
        await _store.CreateAsync(globex, globex.ExpiresAt, _time.GetUtcNow());

        var listed = await _store.ListAsync("acme");

        Assert.Equal(acme.Id, Assert.Single(listed).Id);
    }

    [Fact]
    public async Task Create_AtCapacity_DropsApprovalsNoLongerKeptFirst()
    {
        var store = new InProcessApprovalStore(capacity: 3);
        var old = NewRequest();
        await store.CreateAsync(old, _time.GetUtcNow() + TimeSpan.FromSeconds(1), _time.GetUtcNow());
        var kept = new[] { NewRequest(), NewRequest() };
        foreach (var request in kept)
        {
            await store.CreateAsync(request, _time.GetUtcNow() + Ttl, _time.GetUtcNow());
        }

        _time.Advance(TimeSpan.FromSeconds(2));
        await store.CreateAsync(NewRequest(), _time.GetUtcNow() + Ttl, _time.GetUtcNow());

        Assert.Null(await store.GetAsync(old.Id));
        foreach (var request in kept)
        {
            Assert.NotNull(await store.GetAsync(request.Id));
        }

        Assert.Null(await store.FindByRequestAsync(old.RequestHash));
    }

    [Fact]
    public async Task Create_FullOfLiveApprovals_RefusedAndNoneEvicted()
    {
        var store = new InProcessApprovalStore(capacity: 3);
        var now = _time.GetUtcNow();
        var approved = NewRequest();
        await store.CreateAsync(approved, approved.ExpiresAt + Ttl, now);
        var (_, tokenHash) = ApprovalToken.Create(approved.Id);
        Assert.Equal(DecideOutcome.Decided, await store.ApproveAsync(approved.Id, "bob", tokenHash, now, now + Ttl, now + Ttl + Ttl));
        var pending = new[] { NewRequest(), NewRequest() };
        foreach (var request in pending)
        {
            await store.CreateAsync(request, request.ExpiresAt + Ttl, now);
        }

        // A flood of new requests must not push out another requester's approved token or pending requests.
        for (var i = 0; i < 5; i++)
        {
            var flood = NewRequest();
            await Assert.ThrowsAsync<ApprovalStoreFullException>(async () => await store.CreateAsync(flood, flood.ExpiresAt + Ttl, now));
        }

        Assert.Equal(ConsumeOutcome.Consumed, (await store.ConsumeAsync(approved.Id, tokenHash, approved.RequestHash, now)).Outcome);
        foreach (var request in pending)
        {
            Assert.Equal(ApprovalStatus.Pending, (await store.GetAsync(request.Id))!.Status);
        }
    }

    [Fact]
    public async Task Create_FullAndOneApprovalUsed_EvictsTheUsedOneOnly()
    {
        var store = new InProcessApprovalStore(capacity: 3);
        var now = _time.GetUtcNow();
        var used = NewRequest();
        await store.CreateAsync(used, used.ExpiresAt + Ttl, now);
        var (_, tokenHash) = ApprovalToken.Create(used.Id);
        await store.ApproveAsync(used.Id, "bob", tokenHash, now, now + Ttl, now + Ttl + Ttl);
        var pending = new[] { NewRequest(), NewRequest() };
        foreach (var request in pending)
        {
            await store.CreateAsync(request, request.ExpiresAt + Ttl, now);
        }

        var refused = NewRequest();
        await Assert.ThrowsAsync<ApprovalStoreFullException>(async () => await store.CreateAsync(refused, refused.ExpiresAt + Ttl, now));
        Assert.Equal(ConsumeOutcome.Consumed, (await store.ConsumeAsync(used.Id, tokenHash, used.RequestHash, now)).Outcome);
        var next = NewRequest();
        await store.CreateAsync(next, next.ExpiresAt + Ttl, now);

        Assert.Null(await store.GetAsync(used.Id));
        Assert.NotNull(await store.GetAsync(next.Id));
        foreach (var request in pending)
        {
            Assert.NotNull(await store.GetAsync(request.Id));
        }
    }

    [Fact]
    public async Task Create_FullUntilPendingOnesExpire_AcceptedOnceTheyDo()
    {
        var store = new InProcessApprovalStore(capacity: 2);
        var first = NewRequest();
        var second = NewRequest();
        await store.CreateAsync(first, first.ExpiresAt + Ttl, _time.GetUtcNow());
        await store.CreateAsync(second, second.ExpiresAt + Ttl, _time.GetUtcNow());
        var early = NewRequest();
        await Assert.ThrowsAsync<ApprovalStoreFullException>(async () => await store.CreateAsync(early, early.ExpiresAt + Ttl, _time.GetUtcNow()));

        _time.Advance(Ttl + TimeSpan.FromSeconds(1));
        var late = NewRequest();
        await store.CreateAsync(late, late.ExpiresAt + Ttl, _time.GetUtcNow());

        Assert.NotNull(await store.GetAsync(late.Id));
    }

    private async Task<(ApprovalRequest Request, string TokenHash)> CreateApprovedAsync()
    {
        var request = NewRequest();
        var now = _time.GetUtcNow();
        await _store.CreateAsync(request, request.ExpiresAt + Ttl, now);
        var (token, hash) = ApprovalToken.Create(request.Id);
        Assert.StartsWith(request.Id + ".", token, StringComparison.Ordinal);
        Assert.Equal(DecideOutcome.Decided, await _store.ApproveAsync(request.Id, "bob", hash, now, now + Ttl, now + Ttl + Ttl));
        return (request, hash);
    }

    private ApprovalRequest NewRequest() => TestApprovalRequests.Create(_time.GetUtcNow(), Ttl);
}
