using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// The ban counters the alerts read with increase() exist at 0 for every configured rule (and manual bans) before the
/// first ban: a series that first appears at 40 after a one-scrape flood has no increase, and EdgeBanTableFull and
/// EdgeBansRising stayed silent for it.
/// </summary>
public sealed class ThreatMetricsTests
{
    [Fact]
    public async Task Metrics_RulesConfiguredNoBanYet_BanCountersPresentAtZeroPerRule()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") },
            new
            {
                ThreatProtection = new
                {
                    Rules = new Dictionary<string, object>
                    {
                        ["scan-ip"] = new { On = "NotFound", Key = "{ip}", Threshold = 2, Window = "00:10:00", BanFor = "00:05:00" },
                        ["scan-device"] = new { On = "NotFound", Key = "{header:X-Device}", Threshold = 1, Window = "00:10:00", BanFor = "00:05:00" },
                    },
                },
            }));

        var metrics = await edge.Management.GetStringAsync("/metrics");

        foreach (var rule in (string[])["scan-ip", "scan-device"])
        {
            foreach (var counter in (string[])["edge_threat_bans_total", "edge_threat_bans_evicted_total", "edge_threat_bans_not_kept_total"])
            {
                Assert.Matches($"(?m)^{counter}\\{{[^}}]*rule=\"{rule}\"[^}}]*\\}} 0( |$)", metrics);
            }
        }

        Assert.Matches("(?m)^edge_threat_bans_total\\{[^}]*rule=\"manual\"[^}]*\\} 0( |$)", metrics);
        Assert.Matches("(?m)^edge_threat_bans_not_kept_total\\{[^}]*rule=\"manual\"[^}]*\\} 0( |$)", metrics);
    }
}
