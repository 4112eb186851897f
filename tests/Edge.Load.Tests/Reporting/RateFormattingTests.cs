using System.Globalization;
using System.Text.Json;
using Edge.Load.Reporting;

namespace Edge.Load.Tests.Reporting;

/// <summary>Rates in every report: enough digits for a low-rate run, the same in md, html and the summary, full precision in csv and json.</summary>
public sealed class RateFormattingTests
{
    [Theory]
    [InlineData(0, "0")]
    [InlineData(0.3, "0.3")]
    [InlineData(1.0 / 3, "0.333")]
    [InlineData(1.0 / 30, "0.0333")]
    [InlineData(1.0 / 3600, "0.000278")]
    [InlineData(1, "1")]
    [InlineData(199.5, "199.5")]
    [InlineData(99.96, "99.96")]
    [InlineData(100.0 / 3, "33.333")]
    public void Rate_LowAndHighRates_KeepThreeDecimalsOrThreeSignificantDigits(double value, string expected)
    {
        // "0.0" hid a run at one request per 30 s, and 199.46 and 199.54 both read 199.5.
        Assert.Equal(expected, Formatting.Rate(value));
    }

    [Fact]
    public void MarkdownAndHtml_LowRateRun_ShowTheRateAndTheOfferedRateWithTheSameDigits()
    {
        var report = LowRateReport();

        var md = MarkdownReport.Render(report);
        var html = HtmlReport.Render(report);

        Assert.Contains("| global | ok | 1 | 0.333 | 12.346 | 12.346 | 12.346 | 0.000 | 12.346 | 12.346 | 12.346 | 12.346 | 12.346 | 42 |", md, StringComparison.Ordinal);
        Assert.Contains("- rate: offered 0.333/s (1 scheduled, 1 sent); served 0.333 ok/s, 100.0% of the offered rate", md, StringComparison.Ordinal);
        Assert.Contains("<td>1</td><td>0.333</td>", html, StringComparison.Ordinal);
        Assert.Contains("offered 0.333/s", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_LowRateRun_CarriesTheRatesAtFullPrecision()
    {
        var lines = CsvReport.Render(LowRateReport()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var ok = lines[1].Split(',');

        Assert.Equal(1.0 / 3, double.Parse(ok[Array.IndexOf(CsvReport.Columns, "rps")], CultureInfo.InvariantCulture));
        Assert.Equal(1.0 / 3, double.Parse(ok[Array.IndexOf(CsvReport.Columns, "offered_rps")], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void JsonReport_LowRateRun_CarriesFullPrecisionAndCountsThatAddUp()
    {
        var report = LowRateReport();

        using var json = JsonDocument.Parse(JsonReport.Render(report));

        var scenario = json.RootElement.GetProperty("scenarios")[0];
        Assert.Equal(1.0 / 3, scenario.GetProperty("offeredRps").GetDouble());
        var global = scenario.GetProperty("steps")[0];
        Assert.Equal("global", global.GetProperty("name").GetString());
        var ok = global.GetProperty("ok");
        var fail = global.GetProperty("fail");
        Assert.Equal(1.0 / 3, ok.GetProperty("rps").GetDouble());
        Assert.Equal(12.3456789, ok.GetProperty("p99Ms").GetDouble());
        Assert.Equal(12.3456789, ok.GetProperty("p999Ms").GetDouble());
        Assert.Equal(JsonValueKind.Null, fail.GetProperty("p99Ms").ValueKind);
        Assert.Equal(global.GetProperty("requests").GetInt64(), ok.GetProperty("count").GetInt64() + fail.GetProperty("count").GetInt64());
        Assert.Equal(scenario.GetProperty("sent").GetInt64(), global.GetProperty("requests").GetInt64());
        Assert.Equal(ok.GetProperty("count").GetInt64(), ok.GetProperty("statusCodes").EnumerateObject().Sum(static p => p.Value.GetInt64()));
        Assert.Equal(42, ok.GetProperty("bytes").GetInt64());
        Assert.True(json.RootElement.GetProperty("passed").GetBoolean());
    }

    private static RunReport LowRateReport() => new()
    {
        Title = "low",
        StartedUtc = DateTimeOffset.UnixEpoch,
        Duration = TimeSpan.FromSeconds(3),
        Environment = new RunEnvironment { Host = "h", Cores = 2, Os = "linux", Runtime = ".NET", GcMode = "server", ToolVersion = "1", ToolBuild = "Release" },
        Scenarios =
        [
            new ScenarioReport
            {
                Name = "s",
                Simulations = ["inject rate=1/3s during 3s"],
                WarmUp = TimeSpan.Zero,
                Duration = TimeSpan.FromSeconds(3),
                LoadDuration = TimeSpan.FromSeconds(3),
                Sent = 1,
                Scheduled = 1,
                Steps =
                [
                    new StepReport
                    {
                        Name = "global",
                        Ok = ScenarioReportTests.Outcome(1, 1.0 / 3, 12.3456789) with { Bytes = 42, StatusCodes = [new StatusCodeCount("200", 1)] },
                        Fail = ScenarioReportTests.Outcome(0, 0),
                    },
                ],
                TimeSeries = [],
            },
        ],
    };
}
