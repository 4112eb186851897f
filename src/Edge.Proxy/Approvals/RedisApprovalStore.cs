using System.Globalization;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Approvals in the shared Redis: each one is a hash at <c>edge:approval:{id}</c> (the id is the Cluster hash tag), and
/// every state change is one Lua script on that one key, so among any number of edge instances a token is consumed
/// once. The script compares SHA-256 hashes of tokens, never tokens, so its plain string comparison leaks nothing
/// useful about a secret. Times are the edge's clock (its <see cref="TimeProvider"/>), in Unix milliseconds.
/// </summary>
internal sealed class RedisApprovalStore(EdgeRedis redis) : IApprovalStore
{
    public const string KeyPrefix = "edge:approval:";

    // How long a tenant's index of approval ids is kept after the last new approval; ids of approvals that are gone
    // are dropped from it when listed. It outlives every approval it lists: one waits up to Ttl, its token is usable a
    // Ttl more and it is kept a Ttl past that. Kept for less (8 days), a late-approved token under a 7-day Ttl left every
    // list while it could still be used, so no approver found it to revoke.
    private static readonly TimeSpan IndexRetention = (3 * ApprovalsSectionValidator.MaxTtl) + TimeSpan.FromDays(1);

    // Reads of a listed tenant's approvals sent at once: a tenant with thousands of them does not queue them all together.
    private const int ReadsInFlight = 500;

    // Answers the outcome followed by the approval's fields (ARGV[4] on, as HMGET reads them after the change): the
    // audit record of a consumed token needs them, and a second command after the consume could fail with the token
    // already used up.
    private const string ConsumeScript = """
        local function answer(outcome)
          local fields = redis.call('HMGET', KEYS[1], unpack(ARGV, 4))
          table.insert(fields, 1, outcome)
          return fields
        end
        local a = redis.call('HMGET', KEYS[1], 'status', 'tokenHash', 'tokenExpiresAt', 'requestHash')
        local status = a[1]
        if not status then return {'invalid'} end
        if a[2] ~= ARGV[1] or status == 'pending' or status == 'consumed' then return answer('invalid') end
        if status == 'rejected' then return answer('rejected') end
        local expires = tonumber(a[3])
        if expires == nil or expires <= tonumber(ARGV[3]) then return answer('expired') end
        if a[4] ~= ARGV[2] then return answer('mismatch') end
        redis.call('HSET', KEYS[1], 'status', 'consumed')
        return answer('consumed')
        """;

    private static readonly RedisValue[] FieldNames =
    [
        "id", "policy", "route", "tenant", "requester", "method", "path", "query", "bodySha256", "requestHash", "auditKey",
        "createdAt", "expiresAt", "status", "approver", "decidedAt", "tokenHash", "tokenExpiresAt",
    ];

    private const string ApproveScript = """
        local a = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
        if not a[1] then return 'notfound' end
        if a[1] ~= 'pending' then return 'decided' end
        if tonumber(a[2]) <= tonumber(ARGV[2]) then return 'expired' end
        redis.call('HSET', KEYS[1], 'status', 'approved', 'approver', ARGV[1], 'decidedAt', ARGV[2], 'tokenHash', ARGV[3], 'tokenExpiresAt', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        return 'ok'
        """;

    private const string RejectScript = """
        local a = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
        if not a[1] then return 'notfound' end
        if a[1] == 'rejected' or a[1] == 'consumed' then return 'decided' end
        if a[1] == 'pending' and tonumber(a[2]) <= tonumber(ARGV[2]) then return 'expired' end
        redis.call('HSET', KEYS[1], 'status', 'rejected', 'approver', ARGV[1], 'decidedAt', ARGV[2])
        return 'ok'
        """;

    public static RedisKey ApprovalKey(string id) => KeyPrefix + "{" + id + "}";

    private static RedisKey RequestKey(string requestHash) => KeyPrefix + "request:" + requestHash;

    private static RedisKey TenantKey(string? tenant) => tenant is null ? "edge:approvals:no-tenant" : "edge:approvals:tenant:{" + tenant + "}";

    public async ValueTask CreateAsync(ApprovalRequest request, DateTimeOffset retainUntil, DateTimeOffset now)
    {
        var retain = Retention(retainUntil, now);
        await RunAsync(async db =>
        {
            // The approval and its expiry in one transaction (one key); the two indexes are best-effort lookups whose
            // stale entries are ignored.
            var transaction = db.CreateTransaction();
            _ = transaction.HashSetAsync(ApprovalKey(request.Id), ToFields(request));
            _ = transaction.KeyExpireAsync(ApprovalKey(request.Id), retain);
            await transaction.ExecuteAsync();
            await db.StringSetAsync(RequestKey(request.RequestHash), request.Id, retain);
            await db.SortedSetAddAsync(TenantKey(request.Tenant), request.Id, request.CreatedAt.ToUnixTimeMilliseconds());
            await db.KeyExpireAsync(TenantKey(request.Tenant), IndexRetention);
            return true;
        });
    }

    public async ValueTask<ApprovalRequest?> GetAsync(string id) =>
        await RunAsync(async db => FromFields(await db.HashGetAllAsync(ApprovalKey(id))));

    public async ValueTask<ApprovalRequest?> FindByRequestAsync(string requestHash) =>
        await RunAsync(async db =>
        {
            var id = await db.StringGetAsync(RequestKey(requestHash));
            return id.IsNullOrEmpty ? null : FromFields(await db.HashGetAllAsync(ApprovalKey(id.ToString())));
        });

    public async ValueTask<IReadOnlyList<ApprovalRequest>> ListAsync(string? tenant) =>
        await RunAsync<IReadOnlyList<ApprovalRequest>>(async db =>
        {
            // The whole index, as the in-process store lists every approval it keeps: reading only the newest ids and
            // filtering afterwards hid a request still pending behind as many newer decided ones.
            var index = TenantKey(tenant);
            var ids = await db.SortedSetRangeByRankAsync(index, 0, -1, Order.Descending);
            var found = new List<ApprovalRequest>(ids.Length);
            var gone = new List<RedisValue>();
            foreach (var chunk in ids.Chunk(ReadsInFlight))
            {
                var reads = chunk.Select(id => db.HashGetAllAsync(ApprovalKey(id.ToString()))).ToArray();
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (FromFields(await reads[i]) is { } request && string.Equals(request.Tenant, tenant, StringComparison.Ordinal))
                    {
                        found.Add(request);
                    }
                    else
                    {
                        gone.Add(chunk[i]);
                    }
                }
            }

            if (gone.Count > 0)
            {
                await db.SortedSetRemoveAsync(index, [.. gone]);
            }

            return found;
        });

    public async ValueTask<DecideOutcome> ApproveAsync(string id, string approver, string tokenHash, DateTimeOffset now, DateTimeOffset tokenExpiresAt, DateTimeOffset retainUntil)
    {
        var result = await RunAsync(async db => (string?)await db.ScriptEvaluateAsync(ApproveScript, [ApprovalKey(id)],
            [approver, Ms(now), tokenHash, Ms(tokenExpiresAt), (long)Retention(retainUntil, now).TotalMilliseconds]));
        return ToDecideOutcome(result);
    }

    public async ValueTask<DecideOutcome> RejectAsync(string id, string approver, DateTimeOffset now)
    {
        var result = await RunAsync(async db => (string?)await db.ScriptEvaluateAsync(RejectScript, [ApprovalKey(id)], [approver, Ms(now)]));
        return ToDecideOutcome(result);
    }

    public async ValueTask<(ConsumeOutcome Outcome, ApprovalRequest? Approval)> ConsumeAsync(string id, string tokenHash, string requestHash, DateTimeOffset now)
    {
        var answer = await RunAsync(async db => (RedisValue[]?)await db.ScriptEvaluateAsync(ConsumeScript, [ApprovalKey(id)],
            [tokenHash, requestHash, Ms(now), .. FieldNames]));
        if (answer is not [var result, .. var values])
        {
            return (ConsumeOutcome.Invalid, null);
        }

        var outcome = (string?)result switch
        {
            "consumed" => ConsumeOutcome.Consumed,
            "rejected" => ConsumeOutcome.Rejected,
            "expired" => ConsumeOutcome.Expired,
            "mismatch" => ConsumeOutcome.Mismatch,
            _ => ConsumeOutcome.Invalid,
        };
        var fields = values.Length == FieldNames.Length
            ? FieldNames.Zip(values).Where(f => !f.Second.IsNull).Select(f => new HashEntry(f.First, f.Second)).ToArray()
            : [];
        return (outcome, FromFields(fields));
    }

    private async Task<T> RunAsync<T>(Func<IDatabase, Task<T>> operation)
    {
        // Null until the host's warm-up finished the first connect: treated like a disconnected Redis.
        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            throw new ApprovalStoreUnavailableException("Redis is not connected");
        }

        try
        {
            return await operation(multiplexer.GetDatabase());
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            redis.RefreshAfterFailure(ex);
            throw new ApprovalStoreUnavailableException(ex.GetType().Name, ex);
        }
    }

    private static DecideOutcome ToDecideOutcome(string? result) => result switch
    {
        "ok" => DecideOutcome.Decided,
        "expired" => DecideOutcome.Expired,
        "decided" => DecideOutcome.AlreadyDecided,
        _ => DecideOutcome.NotFound,
    };

    private static TimeSpan Retention(DateTimeOffset until, DateTimeOffset now) =>
        until - now > TimeSpan.FromSeconds(1) ? until - now : TimeSpan.FromSeconds(1);

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static HashEntry[] ToFields(ApprovalRequest request) =>
    [
        new("id", request.Id),
        new("policy", request.Policy),
        new("route", request.Route),
        new("tenant", request.Tenant ?? ""),
        new("requester", request.Requester),
        new("method", request.Method),
        new("path", request.Path),
        new("query", request.Query),
        new("bodySha256", request.BodySha256),
        new("requestHash", request.RequestHash),
        new("auditKey", request.AuditKey),
        new("createdAt", Ms(request.CreatedAt)),
        new("expiresAt", Ms(request.ExpiresAt)),
        new("status", "pending"),
    ];

    private static ApprovalRequest? FromFields(HashEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return null;
        }

        var fields = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);
        string? Text(string name) => fields.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
        DateTimeOffset? Time(string name) =>
            Text(name) is { } value && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

        if (Text("id") is not { } id || Time("createdAt") is not { } created || Time("expiresAt") is not { } expires)
        {
            return null;
        }

        return new ApprovalRequest
        {
            Id = id,
            Policy = Text("policy") ?? "",
            Route = Text("route") ?? "",
            Tenant = Text("tenant"),
            Requester = Text("requester") ?? "",
            Method = Text("method") ?? "",
            Path = Text("path") ?? "",
            Query = Text("query") ?? "",
            BodySha256 = Text("bodySha256") ?? "",
            RequestHash = Text("requestHash") ?? "",
            AuditKey = Text("auditKey") ?? "",
            CreatedAt = created,
            ExpiresAt = expires,
            Status = Text("status") switch
            {
                "approved" => ApprovalStatus.Approved,
                "rejected" => ApprovalStatus.Rejected,
                "consumed" => ApprovalStatus.Consumed,
                _ => ApprovalStatus.Pending,
            },
            Approver = Text("approver"),
            DecidedAt = Time("decidedAt"),
            TokenHash = Text("tokenHash"),
            TokenExpiresAt = Time("tokenExpiresAt"),
        };
    }
}
