using System.Globalization;
using Edge.Load.Reporting;
using Microsoft.Playwright;

namespace Edge.Load.Tests.Reporting;

public sealed class ReportFilesTests(ReportRunFixture run) : IClassFixture<ReportRunFixture>
{
    [Fact]
    public void CsvReport_AfterRun_HasTheDocumentedColumnsAndParsableRows()
    {
        Assert.Equal(0, run.ExitCode);
        var lines = File.ReadAllLines(Path.Combine(run.Folder, "report.csv"));

        Assert.Equal(string.Join(',', CsvReport.Columns), lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(CsvReport.Columns.Length, r.Length));
        var steps = rows.Select(r => r[1]).Distinct().ToList();
        Assert.Equal(["global", "jwt-rbac", "plain-get", "webhook"], steps);
        Assert.All(rows, r => Assert.Contains(r[2], new[] { "ok", "fail" }));
        foreach (var row in rows)
        {
            var count = long.Parse(row[3], CultureInfo.InvariantCulture);
            for (var column = 4; column <= 14; column++)
            {
                // Latencies of an outcome with no responses were not measured: empty, not 0.
                if (count == 0 && column is >= 5 and <= 12)
                {
                    Assert.Equal("", row[column]);
                    continue;
                }

                Assert.True(double.TryParse(row[column], NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"column {CsvReport.Columns[column]} = '{row[column]}'");
            }
        }

        var globalOk = rows.Single(r => r[1] == "global" && r[2] == "ok");
        var stepOk = rows.Where(r => r[1] != "global" && r[2] == "ok").Sum(r => long.Parse(r[3], CultureInfo.InvariantCulture));
        Assert.Equal(long.Parse(globalOk[3], CultureInfo.InvariantCulture), stepOk);
        Assert.Equal("inject rate=40/1s during 2s", globalOk[15]);

        // What was offered and what was sent, on every row, and every request sent is in exactly one of ok or fail.
        var globalFail = rows.Single(r => r[1] == "global" && r[2] == "fail");
        Assert.All(rows, r => Assert.Equal("40", r[17]));
        Assert.Equal(long.Parse(globalOk[18], CultureInfo.InvariantCulture), long.Parse(globalOk[3], CultureInfo.InvariantCulture) + long.Parse(globalFail[3], CultureInfo.InvariantCulture));
        Assert.Equal(80, long.Parse(globalOk[18], CultureInfo.InvariantCulture));

        var status = File.ReadAllLines(Path.Combine(run.Folder, "status-codes.csv"));
        Assert.Equal(string.Join(',', CsvReport.StatusColumns), status[0]);
        Assert.Contains("mixed,global,ok,200," + globalOk[3], status);
    }

    [Fact]
    public void JsonReport_AfterRun_HasTheSameCountsAsTheCsvAndStepsThatAddUp()
    {
        Assert.Equal(0, run.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Folder, "report.json")));
        var csv = File.ReadAllLines(Path.Combine(run.Folder, "report.csv")).Skip(1).Select(l => l.Split(',')).ToList();

        var scenario = json.RootElement.GetProperty("scenarios")[0];
        Assert.Equal("mixed", scenario.GetProperty("name").GetString());
        Assert.Equal(40, scenario.GetProperty("offeredRps").GetDouble());
        Assert.Equal("HTTP/1.1", scenario.GetProperty("protocol").GetProperty("requested").GetString());
        var steps = scenario.GetProperty("steps").EnumerateArray().ToList();
        Assert.Equal(["global", "jwt-rbac", "plain-get", "webhook"], steps.Select(static s => s.GetProperty("name").GetString()));
        foreach (var step in steps)
        {
            foreach (var outcome in new[] { "ok", "fail" })
            {
                var row = csv.Single(r => r[1] == step.GetProperty("name").GetString() && r[2] == outcome);
                Assert.Equal(long.Parse(row[3], CultureInfo.InvariantCulture), step.GetProperty(outcome).GetProperty("count").GetInt64());
                Assert.Equal(long.Parse(row[13], CultureInfo.InvariantCulture), step.GetProperty(outcome).GetProperty("bytes").GetInt64());
            }
        }

        long Sum(string outcome, string field) => steps.Skip(1).Sum(s => s.GetProperty(outcome).GetProperty(field).GetInt64());
        Assert.Equal(steps[0].GetProperty("ok").GetProperty("count").GetInt64(), Sum("ok", "count"));
        Assert.Equal(steps[0].GetProperty("ok").GetProperty("bytes").GetInt64(), Sum("ok", "bytes"));
        Assert.Equal(scenario.GetProperty("sent").GetInt64(), steps[0].GetProperty("requests").GetInt64());
    }

    [Fact]
    public void MarkdownReport_AfterRun_HasAStatsTableWithARowPerStepAndOutcome()
    {
        var lines = File.ReadAllLines(Path.Combine(run.Folder, "report.md"));

        var header = Array.IndexOf(lines, MarkdownReport.StatsHeader);
        Assert.True(header > 0, "stats table header missing");
        var columns = MarkdownReport.StatsHeader.Split('|', StringSplitOptions.RemoveEmptyEntries).Length;
        var rows = lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|')).Select(l => l.Split('|', StringSplitOptions.RemoveEmptyEntries).Select(c => c.Trim()).ToArray()).ToList();
        Assert.Equal(8, rows.Count);
        Assert.All(rows, r => Assert.Equal(columns, r.Length));
        Assert.Contains(rows, r => r[0] == "webhook" && r[1] == "ok" && long.Parse(r[2], CultureInfo.InvariantCulture) > 0);
        Assert.Contains(lines, l => l == "- simulation: inject rate=40/1s during 2s");
        Assert.Contains(lines, l => l.StartsWith("| mixed | global | `fail% < 1` | 0% | 80 |", StringComparison.Ordinal) && l.EndsWith("| passed |", StringComparison.Ordinal));
    }

    [Fact]
    public void MarkdownReport_AfterRun_RecordsTheMachineTheBuildAndTheOfferedRate()
    {
        var lines = File.ReadAllLines(Path.Combine(run.Folder, "report.md"));

        var machine = Assert.Single(lines, l => l.StartsWith("- machine: ", StringComparison.Ordinal));
        Assert.Contains("host " + Environment.MachineName + ", " + Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture) + " cores", machine, StringComparison.Ordinal);
        Assert.Contains(System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, machine, StringComparison.Ordinal);
        Assert.Contains("; edge-load ", machine, StringComparison.Ordinal);
        Assert.Contains("load average ", machine, StringComparison.Ordinal);
        Assert.Matches(@"^- started: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC, took ", lines.Single(l => l.StartsWith("- started: ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("- rate: offered 40/s (80 scheduled, 80 sent); served ", StringComparison.Ordinal));
    }

    [Fact]
    public void MarkdownReport_AfterRun_RecordsTheParametersAndTheRequestTimeout()
    {
        // A report that named only the target could not say which route, tenant or weights were loaded, nor how long a
        // request could take before it counted as a timeout: two runs with other --param values looked alike.
        var lines = File.ReadAllLines(Path.Combine(run.Folder, "report.md"));

        Assert.Contains(lines, l => l.StartsWith("- target: http://127.0.0.1:", StringComparison.Ordinal) && l.EndsWith("; per-request timeout 10 s", StringComparison.Ordinal));
        var parameters = Assert.Single(lines, l => l.StartsWith("- parameters: ", StringComparison.Ordinal));
        Assert.Contains("plain-weight=1,", parameters, StringComparison.Ordinal);
        Assert.Contains("webhook-path=/hooks/github (default),", parameters, StringComparison.Ordinal);
        Assert.Contains("users=16 (default)", parameters, StringComparison.Ordinal);
        Assert.Contains("key=file:", parameters, StringComparison.Ordinal);
        Assert.DoesNotContain("a-test-only-hs256-key", parameters, StringComparison.Ordinal);
        Assert.Contains("plain-weight=1", File.ReadAllText(Path.Combine(run.Folder, "report.html")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HtmlReport_OpensInHeadlessChromium_WithChartsTablesAndNoNetwork()
    {
        const string chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), $"{chromium} is missing: apt-get install -y chromium");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        var requests = new List<string>();
        var errors = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };

        await page.GotoAsync(new Uri(Path.Combine(run.Folder, "report.html")).AbsoluteUri);

        Assert.Equal("Load test report: " + Path.GetFileName(run.Folder), await page.TitleAsync());
        Assert.Equal("all thresholds passed", await page.Locator("#verdict").InnerTextAsync());
        Assert.StartsWith("Machine: host " + Environment.MachineName, await page.Locator("p.machine").InnerTextAsync(), StringComparison.Ordinal);
        Assert.StartsWith("Rate: offered 40/s (80 scheduled, 80 sent)", await page.Locator("p.rate").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(["mixed", "global", "fail% < 1", "0%", "80", "passed"], await page.Locator("table.thresholds tbody tr td").AllInnerTextsAsync());
        Assert.Equal(8, await page.Locator("table.stats tbody tr").CountAsync());
        foreach (var chart in new[] { "#latency-0", "#rps-0" })
        {
            var box = await page.Locator(chart).BoundingBoxAsync();
            Assert.NotNull(box);
            Assert.True(box.Width > 100 && box.Height > 100, $"{chart} is not rendered");
        }

        Assert.Equal(5, await page.Locator("svg.chart polyline.series").CountAsync());
        var okPoints = await page.Locator("#rps-0 polyline[data-series='ok']").GetAttributeAsync("points");
        Assert.True(okPoints!.Split(' ').Length >= 2, "RPS chart has fewer than two points");
        Assert.Empty(errors);
        Assert.All(requests, url => Assert.StartsWith("file:", url, StringComparison.Ordinal));
    }
}
