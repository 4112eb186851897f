using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edge.Audit.Spool;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Ingest;
using Edge.AuditWriter.Retention;
using Edge.AuditWriter.Tests;
using Edge.Proxy.Authorization;
using Edge.Proxy.Observability;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.ThreatProtection;
using Edge.Proxy.Webhooks;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Observability;

/// <summary>config/prometheus-alerts.yml and config/grafana-dashboard.json query only what a running edge or audit writer exports.</summary>
public sealed partial class AlertRulesTests
{
    private const string Promtool = "/usr/bin/promtool";

    [Fact]
    public async Task AlertRules_Promtool_CheckAndUnitTestsPass()
    {
        var config = Path.Combine(RepositoryRoot(), "config");
        if (!File.Exists(Promtool))
        {
            // Without Debian's prometheus package the rules are still read: each alert has a name and an expression.
            var text = await File.ReadAllTextAsync(Path.Combine(config, "prometheus-alerts.yml"));
            Assert.Equal(AlertName().Matches(text).Count, ExprLine().Matches(text).Count);
            return;
        }

        var (checkCode, checkOutput) = await RunAsync(config, "check", "rules", "prometheus-alerts.yml");
        var (testCode, testOutput) = await RunAsync(config, "test", "rules", "prometheus-alerts.test.yml");

        Assert.True(checkCode == 0, checkOutput);
        Assert.True(testCode == 0, testOutput);
        Assert.Contains("SUCCESS", testOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertsAndDashboard_EveryEdgeMetric_IsExportedByARunningEdge()
    {
        using var backend = Backend.Start();
        // Audit to a writer (a closed port), so the spool's and shipper's series exist too.
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r") }),
            new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
                ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
            });
        await using var writer = await WriterFixture.StartAsync();
        _ = writer.Services.GetRequiredService<RetentionMetrics>();
        _ = writer.Services.GetRequiredService<IngestMetrics>();
        var exported = ExportedNames(edge.Services);
        exported.UnionWith(InstrumentNames(WriterMeter.Name));
        var config = Path.Combine(RepositoryRoot(), "config");
        var alerts = await File.ReadAllTextAsync(Path.Combine(config, "prometheus-alerts.yml"));
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(config, "grafana-dashboard.json")));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .Append(alerts);

        // Label names (edge_client) sit in selectors and by/without lists: only what is left names metrics.
        var referenced = expressions.Select(e => LabelContexts().Replace(e, ""))
            .SelectMany(e => EdgeMetricName().Matches(e).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);

        Assert.Contains("edge_threat_bans_total", referenced);
        Assert.Contains("edge_threat_blocked_total", referenced);
        Assert.Contains("edge_auth_failures_total", referenced);
        Assert.Contains("edge_webhook_verifications_total", referenced);
        Assert.Contains("edge_ratelimit_fallbacks_total", referenced);
        Assert.Contains("edge_audit_oldest_unacked_seconds", referenced);
        Assert.Contains("edge_audit_dropped_total", referenced);
        Assert.Contains("edge_audit_spool_write_failures_total", referenced);
        Assert.Contains("edge_audit_quarantined_total", referenced);
        Assert.Contains("edge_audit_spool_lost_total", referenced);
        Assert.Contains("edge_audit_retention_runs_total", referenced);
        Assert.All(referenced, name => Assert.True(exported.Contains(name), $"{name} is queried but neither the edge nor the writer exports such a series"));
    }

    [Fact]
    public async Task Alerts_IncreaseOfACounter_ExportedAtZeroBeforeItsFirstEvent()
    {
        // increase() sees no rise in a series that first appears at N: an alert over a counter whose series is exported
        // only from its first event stayed silent for a burst inside one scrape interval, and for a writer's one failed run.
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                backend.Url,
                new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r") },
                new
                {
                    ThreatProtection = new
                    {
                        Rules = new Dictionary<string, object>
                        {
                            ["scan"] = new { On = "NotFound", Key = "{ip}", Threshold = 5, Window = "00:10:00", BanFor = "00:05:00" },
                        },
                    },
                }),
            new Dictionary<string, string?>
            {
                ["Edge:Audit:WriterUrl"] = $"http://127.0.0.1:{FreePort.Next()}/",
                ["Edge:Audit:DrainTimeout"] = "00:00:00.200",
            });
        await using var writer = await WriterFixture.StartAsync();
        using var writerClient = writer.Client();
        var scrapes = await edge.Management.GetStringAsync("/metrics") + "\n" + await writerClient.GetStringAsync("/metrics");
        var alerts = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "config", "prometheus-alerts.yml"));

        var increased = IncreasedCounter().Matches(alerts).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        Assert.Contains("edge_threat_bans_evicted_total", increased);
        Assert.Contains("edge_audit_retention_runs_total", increased);
        Assert.All(increased, name => Assert.Matches($"(?m)^{name}(\\{{[^}}]*\\}})? 0( |$)", scrapes));
    }

    /// <summary>The Prometheus names of the edge's instruments, once every capability's metrics exist.</summary>
    private static HashSet<string> ExportedNames(IServiceProvider services)
    {
        _ = services.GetRequiredService<ThreatMetrics>();
        _ = services.GetRequiredService<WebhookMetrics>();
        _ = services.GetRequiredService<RateLimitMetrics>();
        _ = services.GetRequiredService<AuthenticationMetrics>();
        return InstrumentNames(EdgeMetrics.MeterName, SpoolMetrics.MeterName);
    }

    /// <summary>The Prometheus names of the live instruments of <paramref name="meters"/>.</summary>
    private static HashSet<string> InstrumentNames(params string[] meters)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (!meters.Contains(instrument.Meter.Name))
                {
                    return;
                }

                var name = instrument.Name.Replace('.', '_');
                names.Add(instrument is Counter<long> or ObservableCounter<long> ? name + "_total" : name);
            },
        };
        listener.Start();
        return names;
    }

    private static async Task<(int Code, string Output)> RunAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Promtool) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\bincrease\((edge_[a-z0-9_]+)")]
    private static partial Regex IncreasedCounter();

    [GeneratedRegex(@"\bedge_[a-z0-9_]+\b")]
    private static partial Regex EdgeMetricName();

    [GeneratedRegex(@"\{[^}]*\}|\b(?:by|without)\s*\([^)]*\)")]
    private static partial Regex LabelContexts();

    [GeneratedRegex(@"^\s*- alert: \S+", RegexOptions.Multiline)]
    private static partial Regex AlertName();

    [GeneratedRegex(@"^\s*expr: ", RegexOptions.Multiline)]
    private static partial Regex ExprLine();
}
