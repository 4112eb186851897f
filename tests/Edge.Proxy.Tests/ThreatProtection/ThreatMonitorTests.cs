using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Proxy.ThreatProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.ThreatProtection;

public sealed class ThreatMonitorTests : IDisposable
{
    private static readonly EdgeDenial BadToken = new(StatusCodes.Status401Unauthorized, AuthenticationCodes.TokenInvalid, "Unauthorized");

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly EdgeMetrics _metrics;

    public ThreatMonitorTests() => _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task ObserveAsync_ThresholdCrossed_BlocksTheClientBeforeStepsWithRetryAfter()
    {
        var monitor = Monitor(new ThreatRuleOptions { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 3, Window = TimeSpan.FromMinutes(1), BanFor = TimeSpan.FromSeconds(90) });

        for (var i = 0; i < 2; i++)
        {
            await monitor.ObserveAsync(Request("10.0.0.1"), AuthenticateStepValidator.StepName, BadToken);
        }

        Assert.Null(monitor.CheckBeforeSteps(Request("10.0.0.1"), Request("10.0.0.1").GetEdgeRequest()!));
        await monitor.ObserveAsync(Request("10.0.0.1"), AuthenticateStepValidator.StepName, BadToken);

        var http = Request("10.0.0.1");
        var blocked = monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!);
        Assert.NotNull(blocked);
        Assert.Equal(StatusCodes.Status403Forbidden, blocked.Status);
        Assert.Equal(ThreatMonitor.BlockedCode, blocked.Code);
        Assert.Equal("90", blocked.Headers!["Retry-After"]);
        var other = Request("10.0.0.2");
        Assert.Null(monitor.CheckBeforeSteps(other, other.GetEdgeRequest()!));
        var ban = Assert.Single(await monitor.ListAsync());
        Assert.Equal("10.0.0.1", ban.Key);
        Assert.Equal("ip-auth", ban.Rule);
    }

    [Fact]
    public async Task ObserveAsync_Ipv6ClientChangingAddressWithinItsSlash64_CountedAndBannedAsOne()
    {
        // One subscriber's /64 holds 2^64 addresses: counted per address, a new address per request never reached the
        // threshold, and a banned client came back from the next address.
        var monitor = Monitor(new ThreatRuleOptions { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 3, BanFor = TimeSpan.FromMinutes(10) });

        foreach (var ip in (string[])["2001:db8:0:1::1", "2001:db8:0:1:a:b:c:d", "2001:db8:0:1:ffff:ffff:ffff:fffe"])
        {
            await monitor.ObserveAsync(Request(ip), AuthenticateStepValidator.StepName, BadToken);
        }

        var ban = Assert.Single(await monitor.ListAsync());
        Assert.Equal("2001_db8_0_1__", ban.Key);
        var sameSubscriber = Request("2001:db8:0:1:1234::99");
        Assert.NotNull(monitor.CheckBeforeSteps(sameSubscriber, sameSubscriber.GetEdgeRequest()!));
        var neighbour = Request("2001:db8:0:2::1");
        Assert.Null(monitor.CheckBeforeSteps(neighbour, neighbour.GetEdgeRequest()!));
        var ipv4 = Request("10.0.0.1");
        Assert.Null(monitor.CheckBeforeSteps(ipv4, ipv4.GetEdgeRequest()!));
    }

    [Fact]
    public async Task ObserveAsync_OneRuleFilledWithMadeUpTenants_OtherRuleStillBansANewOffender()
    {
        // The count table was shared by every rule: 100 000 refusals under made-up tenants filled it for the tenant rule,
        // and the credential rule then never counted the guessing client.
        var monitor = Monitor(
            ("tenant-abuse", new ThreatRuleOptions { On = ["Forbidden"], Key = "{tenant}:{ip}", Threshold = 50, Window = TimeSpan.FromMinutes(10) }),
            ("ip-auth", new ThreatRuleOptions { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 3, Window = TimeSpan.FromMinutes(1) }));
        var forbidden = new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.PermissionDenied, "Forbidden");
        for (var i = 0; i < 100_001; i++)
        {
            await monitor.ObserveAsync(Request("10.0.0.9", "t" + i), "EdgeRequire", forbidden);
        }

        for (var i = 0; i < 3; i++)
        {
            await monitor.ObserveAsync(Request("10.0.0.1"), AuthenticateStepValidator.StepName, BadToken);
        }

        var ban = Assert.Single(await monitor.ListAsync());
        Assert.Equal("10.0.0.1", ban.Key);
        Assert.Equal("ip-auth", ban.Rule);
    }

    [Fact]
    public async Task ObserveAsync_RuleTableFullAndNewKeysKeepComing_OneWarningPerMinuteWithTheCountSkipped()
    {
        // Warning 2305 was written for every refusal under a new key once the table was full: a client choosing the
        // tenant sent one log line per request.
        using var logs = new CapturedLogs();
        var monitor = ThreatMonitors.InProcess(
            _metrics,
            new Dictionary<string, ThreatRuleOptions> { ["tenant-abuse"] = new() { On = ["Forbidden"], Key = "{tenant}:{ip}", Threshold = 50, Window = TimeSpan.FromMinutes(10) } },
            _time,
            new LoggerFactory([logs]).CreateLogger<ThreatMonitor>());
        var forbidden = new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.PermissionDenied, "Forbidden");
        for (var i = 0; i < 100_000 + 500; i++)
        {
            await monitor.ObserveAsync(Request("10.0.0.9", "t" + i), "EdgeRequire", forbidden);
        }

        Assert.Single(logs.Entries, e => e.Id.Id == 2305);

        _time.Advance(ThreatMonitor.LogInterval);
        await monitor.ObserveAsync(Request("10.0.0.9", "late"), "EdgeRequire", forbidden);

        var full = logs.Values.Where(e => e.Id.Id == 2305).ToList();
        Assert.Equal(2, full.Count);
        Assert.Equal(499L, full[1].Values.Single(v => v.Key == "Unlogged").Value);
        Assert.Equal("tenant-abuse", full[1].Values.Single(v => v.Key == "Rule").Value);
    }

    [Fact]
    public async Task CheckBeforeSteps_BanEnded_LetsTheClientThrough()
    {
        var monitor = Monitor(new ThreatRuleOptions { On = ["AuthenticationFailed"], Threshold = 1, BanFor = TimeSpan.FromSeconds(30) });
        await monitor.ObserveAsync(Request("10.0.0.1"), AuthenticateStepValidator.StepName, BadToken);

        _time.Advance(TimeSpan.FromSeconds(20));
        var http = Request("10.0.0.1");
        Assert.Equal("10", monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!)!.Headers!["Retry-After"]);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!));
    }

    [Fact]
    public async Task ObserveAsync_MissingCredentialOrOtherEvent_NotCounted()
    {
        var monitor = Monitor(new ThreatRuleOptions { On = ["AuthenticationFailed"], Threshold = 1 });

        await monitor.ObserveAsync(Request("10.0.0.1"), AuthenticateStepValidator.StepName,
            new EdgeDenial(StatusCodes.Status401Unauthorized, AuthenticationCodes.AuthenticationRequired, "Unauthorized"));
        await monitor.ObserveAsync(Request("10.0.0.1"), "EdgeRequire", new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.PermissionDenied, "Forbidden"));

        Assert.Empty(await monitor.ListAsync());
    }

    [Fact]
    public async Task ObserveAsync_WindowEndsBeforeThreshold_StartsCountingAgain()
    {
        var monitor = Monitor(new ThreatRuleOptions { On = ["Forbidden"], Threshold = 2, Window = TimeSpan.FromSeconds(10) });
        var forbidden = new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.PermissionDenied, "Forbidden");

        await monitor.ObserveAsync(Request("10.0.0.1"), "EdgeRequire", forbidden);
        _time.Advance(TimeSpan.FromSeconds(11));
        await monitor.ObserveAsync(Request("10.0.0.1"), "EdgeRequire", forbidden);

        Assert.Empty(await monitor.ListAsync());
    }

    [Fact]
    public async Task CheckAfterStep_TenantKeyedBan_BlocksOnceTheTenantIsKnown()
    {
        var monitor = Monitor(new ThreatRuleOptions { On = ["TenantMismatch"], Key = "{tenant}:{ip}", Threshold = 1 });
        var mismatch = new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.TenantMismatch, "Tenant mismatch");
        await monitor.ObserveAsync(Request("10.0.0.1", tenant: "acme"), AuthenticateStepValidator.StepName, mismatch);
        Assert.Equal("acme:10.0.0.1", Assert.Single(await monitor.ListAsync()).Key);

        var http = Request("10.0.0.1");
        var request = http.GetEdgeRequest()!;
        Assert.Null(monitor.CheckBeforeSteps(http, request));
        Assert.Null(monitor.CheckAfterStep(http, request));

        http.Features.Set(new EdgeTenantFeature("acme", "Header"));
        Assert.Equal(ThreatMonitor.BlockedCode, monitor.CheckAfterStep(http, request)?.Code);
        var otherTenant = Request("10.0.0.1", tenant: "globex");
        Assert.Null(monitor.CheckAfterStep(otherTenant, otherTenant.GetEdgeRequest()!));
    }

    [Fact]
    public async Task BanAsync_ManualAddressBanWithoutRules_BlocksAndUnbanLifts()
    {
        var monitor = ThreatMonitors.InProcess(_metrics, time: _time);

        var ban = await monitor.BanAsync("10.0.0.9", TimeSpan.FromMinutes(5), "incident 42");
        var http = Request("10.0.0.9");

        Assert.Null(ban.Rule);
        Assert.Equal("client_blocked:manual", monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!)?.Reason);
        Assert.True(await monitor.UnbanAsync("10.0.0.9"));
        Assert.False(await monitor.UnbanAsync("10.0.0.9"));
        Assert.Null(monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!));
    }

    [Theory]
    [InlineData("EdgeAuthenticate", 401, "token_invalid", ThreatEvent.AuthenticationFailed)]
    [InlineData("EdgeAuthenticate", 401, "api_key_invalid", ThreatEvent.AuthenticationFailed)]
    [InlineData("EdgeAuthenticate", 403, "tenant_mismatch", ThreatEvent.TenantMismatch)]
    [InlineData("EdgeTenant", 403, "tenant_mismatch", ThreatEvent.TenantMismatch)]
    [InlineData("EdgeWebhook", 401, "signature_invalid", ThreatEvent.SignatureInvalid)]
    [InlineData("EdgeWebhook", 401, "timestamp_out_of_window", ThreatEvent.SignatureInvalid)]
    [InlineData("EdgeWebhook", 409, "replayed_delivery", ThreatEvent.ReplayDetected)]
    [InlineData("EdgeRateLimit", 429, "rate_limited", ThreatEvent.RateLimited)]
    [InlineData("RateLimiterPolicy", 429, "rate_limited", ThreatEvent.RateLimited)]
    [InlineData("EdgeRequire", 403, "permission_denied", ThreatEvent.Forbidden)]
    [InlineData("EdgeRequireClaim", 403, "claim_denied", ThreatEvent.Forbidden)]
    [InlineData("EdgeValidate", 422, "body_invalid", ThreatEvent.ValidationFailed)]
    [InlineData("EdgeValidate", 413, "body_too_large", ThreatEvent.ValidationFailed)]
    [InlineData("EdgeWebhook", 413, "body_too_large", ThreatEvent.ValidationFailed)]
    [InlineData("EdgeValidate", 422, "query_invalid", ThreatEvent.ValidationFailed)]
    [InlineData("EdgeValidate", 415, "unsupported_media_type", ThreatEvent.ValidationFailed)]
    public void Classify_KnownDenial_MapsToItsEvent(string step, int status, string code, ThreatEvent expected) =>
        Assert.Equal(expected, ThreatEvents.Classify(step, new EdgeDenial(status, code, "t")));

    [Theory]
    [InlineData("EdgeAuthenticate", 401, "authentication_required")]
    [InlineData("EdgeAuthenticate", 503, "authentication_unavailable")]
    [InlineData("EdgeRequire", 401, "authentication_required")]
    [InlineData("EdgeRateLimit", 503, "rate_limit_unavailable")]
    [InlineData("Edge", 503, "audit_unavailable")]
    [InlineData("EdgeWebhook", 400, "signature_missing")]
    [InlineData("EdgeValidate", 500, "edge_pipeline_error")]
    [InlineData("EdgeWebhook", 415, "unsupported_media_type")]
    public void Classify_NotAThreat_ReturnsNull(string step, int status, string code) =>
        Assert.Null(ThreatEvents.Classify(step, new EdgeDenial(status, code, "t")));

    [Fact]
    public async Task BanLogLines_RuleBanManualBanAndLift_NameAKeyedIdNeverTheAddressOrPrincipal()
    {
        // The ban key is an address or a principal; in a log line erasure could not reach it.
        using var logs = new CapturedLogs();
        var monitor = ThreatMonitors.InProcess(
            _metrics,
            new Dictionary<string, ThreatRuleOptions> { ["ip-auth"] = new() { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 1, BanFor = TimeSpan.FromMinutes(5) } },
            _time,
            new LoggerFactory([logs]).CreateLogger<ThreatMonitor>());

        await monitor.ObserveAsync(Request("203.0.113.7"), AuthenticateStepValidator.StepName, BadToken);
        await monitor.BanAsync("acme:alice", TimeSpan.FromMinutes(5), "incident 42");
        Assert.True(await monitor.UnbanAsync("acme:alice"));

        var entries = logs.Entries.Where(e => e.Id.Id is >= 2300 and <= 2302).ToList();
        Assert.Equal([2300, 2301, 2302], entries.Select(e => e.Id.Id));
        var values = logs.Values.Where(e => e.Id.Id is >= 2300 and <= 2302).SelectMany(e => e.Values).Select(v => Convert.ToString(v.Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.All(entries, e => Assert.DoesNotContain("203.0.113.7", e.Message, StringComparison.Ordinal));
        Assert.All(entries, e => Assert.DoesNotContain("alice", e.Message, StringComparison.Ordinal));
        Assert.DoesNotContain(values, v => v is not null && (v.Contains("203.0.113.7", StringComparison.Ordinal) || v.Contains("alice", StringComparison.Ordinal)));
        Assert.Contains(monitor.KeyId("203.0.113.7"), entries[0].Message, StringComparison.Ordinal);
        Assert.Contains("ip-auth", entries[0].Message, StringComparison.Ordinal);
        Assert.Contains(monitor.KeyId("acme:alice"), entries[1].Message, StringComparison.Ordinal);
        Assert.Contains(monitor.KeyId("acme:alice"), entries[2].Message, StringComparison.Ordinal);
        Assert.Matches("^k-[0-9a-f]{12}$", monitor.KeyId("203.0.113.7"));
        Assert.NotEqual(monitor.KeyId("203.0.113.7"), monitor.KeyId("203.0.113.8"));
    }

    [Fact]
    public async Task ObserveAsync_RefusalsCrossingTheThresholdTogether_OneBanAuditedOnce()
    {
        // Two refusals crossing the threshold at once both found no running ban before either was published, so the
        // client was banned, and audited, twice. Many running bans make publishing one slow enough to meet that race.
        var sink = new RecordingThreatSink();
        var rules = new Dictionary<string, ThreatRuleOptions>
        {
            ["ip-auth"] = new() { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 1, BanFor = TimeSpan.FromMinutes(10) },
        };
        var monitor = ThreatMonitors.Create(_metrics, new Edge.Proxy.Redis.EdgeRedis(null), sink, rules, _time);
        for (var i = 0; i < 3_000; i++)
        {
            await monitor.BanAsync($"other-{i}", TimeSpan.FromMinutes(10), "noise");
        }

        var before = sink.BannedKeys.Count;
        const int clients = 150;
        for (var client = 0; client < clients; client++)
        {
            var ip = $"10.9.{client / 250}.{client % 250}";
            var ready = 0;
            var go = false;
            var refusals = Enumerable.Range(0, 2)
                .Select(_ => Task.Run(async () =>
                {
                    Interlocked.Increment(ref ready);
                    while (!Volatile.Read(ref go))
                    {
                        Thread.SpinWait(1);
                    }

                    await monitor.ObserveAsync(Request(ip), AuthenticateStepValidator.StepName, BadToken);
                }))
                .ToArray();
            while (Volatile.Read(ref ready) < refusals.Length)
            {
                Thread.SpinWait(1);
            }

            Volatile.Write(ref go, true);
            await Task.WhenAll(refusals);
        }

        Assert.Equal(clients, sink.BannedKeys.Count - before);
    }
    private ThreatMonitor Monitor(ThreatRuleOptions rule) =>
        ThreatMonitors.InProcess(_metrics, new Dictionary<string, ThreatRuleOptions> { ["ip-auth"] = rule }, _time);

    private ThreatMonitor Monitor(params (string Name, ThreatRuleOptions Rule)[] rules) =>
        ThreatMonitors.InProcess(_metrics, rules.ToDictionary(r => r.Name, r => r.Rule), _time);

    private static DefaultHttpContext Request(string ip, string? tenant = null)
    {
        var http = new DefaultHttpContext();
        http.Features.Set(new EdgeRequestFeature { RequestId = "r", RouteId = "orders", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = ip });
        if (tenant is not null)
        {
            http.Features.Set(new EdgeTenantFeature(tenant, "Header"));
        }

        return http;
    }
}
