using Edge.Configuration.ThreatProtection;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>The shared ban store against a real redis-server: a reload that knows the current version gets no bans back.</summary>
public sealed class RedisBanStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private const int MaxBans = ThreatProtectionOptions.DefaultMaxBans;
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task LoadAsync_NothingChangedSinceTheKnownVersion_NoBansBackUntilABanIsAddedCountedOrLifted()
    {
        using var connection = _redis.Connect();
        var database = connection.GetDatabase();
        await RedisBanStore.AddAsync(database, new BanEntry("198.51.100.1", Now.AddMinutes(10), null, "incident"), MaxBans, Now);

        var first = await RedisBanStore.LoadAsync(database, Now, "epoch-a");
        var unchanged = await RedisBanStore.LoadAsync(database, Now, "epoch-b", first.Epoch, first.Version);
        var otherEpoch = await RedisBanStore.LoadAsync(database, Now, "epoch-b", "an epoch Redis lost", first.Version);

        await RedisBanStore.AddAsync(database, new BanEntry("198.51.100.2", Now.AddMinutes(10), null, "incident"), MaxBans, Now);
        var afterAdd = await RedisBanStore.LoadAsync(database, Now, "epoch-b", first.Epoch, first.Version);

        var rule = ThreatRule.TryCreate("scan", new ThreatRuleOptions { On = ["NotFound"], Key = "{ip}", Threshold = 1 }, new Edge.Configuration.ConfigErrorList())!;
        await RedisBanStore.CountAsync(database, rule, "198.51.100.3", "NotFound", Now, subject: null, MaxBans, BanRank.Connection);
        var afterCount = await RedisBanStore.LoadAsync(database, Now, "epoch-b", afterAdd.Epoch, afterAdd.Version);

        var (lifted, _) = await RedisBanStore.RemoveAsync(database, "198.51.100.1", Now);
        var afterLift = await RedisBanStore.LoadAsync(database, Now, "epoch-b", afterCount.Epoch, afterCount.Version);
        var (liftedAgain, _) = await RedisBanStore.RemoveAsync(database, "198.51.100.1", Now);
        var afterNoOpLift = await RedisBanStore.LoadAsync(database, Now, "epoch-b", afterLift.Epoch, afterLift.Version);

        Assert.Equal("epoch-a", first.Epoch);
        Assert.Equal(["198.51.100.1"], first.Bans!.Select(b => b.Key));
        Assert.Null(unchanged.Bans);
        Assert.Equal(first.Version, unchanged.Version);
        Assert.Equal(["198.51.100.1"], otherEpoch.Bans!.Select(b => b.Key));
        Assert.Equal(["198.51.100.1", "198.51.100.2"], afterAdd.Bans!.Select(b => b.Key).Order());
        Assert.Equal(["198.51.100.1", "198.51.100.2", "198.51.100.3"], afterCount.Bans!.Select(b => b.Key).Order());
        Assert.True(lifted);
        Assert.Equal(["198.51.100.2", "198.51.100.3"], afterLift.Bans!.Select(b => b.Key).Order());
        Assert.False(liftedAgain);
        Assert.Null(afterNoOpLift.Bans);
    }
}
