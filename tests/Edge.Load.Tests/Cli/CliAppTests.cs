using System.Globalization;
using Edge.Load.Cli;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Edge.Load.Tests.Cli;

public sealed class CliAppTests
{
    [Fact]
    public async Task RunAsync_ThresholdBreached_ReturnsNonZeroExitCode()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/slow").UsingGet()).RespondWith(Response.Create().WithStatusCode(200).WithDelay(TimeSpan.FromMilliseconds(30)));
        var folder = TestBackends.TempFolder("breach");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "--scenario", "plain-get", "--target", server.Url!, "--param", "path=/slow", "--simulation", "inject:rate=20,during=1s",
             "--report-folder", folder, "--threshold", "p50 < 1ms", "--threshold", "fail% < 1", "--quiet"],
            stdout, stderr);

        Assert.Equal(ExitCodes.ThresholdFailed, exit);
        Assert.Contains("FAILED: p50 < 1ms", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("passed: fail% < 1", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("| plain-get | global | `p50 < 1ms` |", File.ReadAllText(Path.Combine(folder, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ThresholdsMet_ReturnsZero()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var thresholds = Path.Combine(TestBackends.TempFolder("file"), "t.json");
        File.WriteAllText(thresholds, """["fail% < 1", { "Scenario": "plain-get", "Check": "requests >= 10" }]""");

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", server.Url!, "--simulation", "inject:rate=20,during=1s", "-o", TestBackends.TempFolder("ok"), "--thresholds-file", thresholds, "-q"],
            new StringWriter(), new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
    }

    [Theory]
    [InlineData("run", "--help")]
    [InlineData("run", "-h")]
    [InlineData("run", "--scenario", "plain-get", "--help")]
    [InlineData("list", "--help")]
    [InlineData("token", "--help")]
    [InlineData("keys", "--help")]
    [InlineData("help")]
    [InlineData("--help")]
    public async Task RunAsync_HelpOnAnyCommand_PrintsUsageAndReturnsZero(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(args, stdout, stderr);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("Usage:", stdout.ToString(), StringComparison.Ordinal);
        Assert.Empty(stderr.ToString());
    }

    [Theory]
    [InlineData("run", "--scenario", "plain-get", "--simulation", "inject:rate=1,during=1s", "--frobnicate")]
    [InlineData("list", "--frobnicate")]
    [InlineData("token", "--frobnicate", "x")]
    [InlineData("keys", "--frobnicate")]
    public async Task RunAsync_UnknownOptionOnSubcommand_ReturnsUsageExitCode(params string[] args)
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(args, new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("frobnicate", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("keys: --out '{0}' cannot be written", "keys", "--out", "{0}")]
    [InlineData("audit-fill: Writer:StorePath: '{0}/audit.db' cannot be opened", "audit-fill", "--store", "{0}/audit.db", "--records", "5")]
    public async Task RunAsync_OutputPathUnderAFile_ReturnsUsageWithoutAStackTrace(string expected, params string[] args)
    {
        // A path below a regular file can be neither a folder nor a store, whoever runs the test.
        var file = Path.Combine(TestBackends.TempFolder("not-a-folder"), "file");
        File.WriteAllText(file, "x");
        var under = Path.Combine(file, "sub");
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync([.. args.Select(a => string.Format(CultureInfo.InvariantCulture, a, under))], new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith(string.Format(CultureInfo.InvariantCulture, expected, under), stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "--scenario", "nope", "--simulation", "inject:rate=1,during=1s")]
    [InlineData("run", "--scenario", "plain-get")]
    [InlineData("run", "--scenario", "plain-get", "--simulation", "inject:rate=1,during=1s", "--threshold", "p99 20")]
    [InlineData("frobnicate")]
    public async Task RunAsync_BadUsage_ReturnsUsageExitCode(params string[] args)
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(args, new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.NotEmpty(stderr.ToString());
    }

    [Theory]
    [InlineData("--timeout must be positive", "--timeout", "0s")]
    [InlineData("--timeout must be at most 24h", "--timeout", "99999999h")]
    [InlineData("--target 'http://127.0.0.1:9/api' has a path", "--target", "http://127.0.0.1:9/api")]
    [InlineData("parameter path='//elsewhere/x' is not a path on the target", "--param", "path=//elsewhere/x")]
    [InlineData("parameter path='http://elsewhere/x' is not a path on the target", "--param", "path=http://elsewhere/x")]
    [InlineData("--target 'http://127.0.0.1:9/?x=1' has a path", "--target", "http://127.0.0.1:9/?x=1")]
    [InlineData("'99999999999h' is not a duration", "--warmup", "99999999999h")]
    [InlineData("'1e400s' is not a duration", "--warmup", "1e400s")]
    [InlineData("--warmup '1x' is not a duration", "--warmup", "1x")]
    [InlineData("--timeout '10' is not a duration", "--timeout", "10")]
    [InlineData("--thresholds-file '/nonexistent/thresholds.json' cannot be read", "--thresholds-file", "/nonexistent/thresholds.json")]
    [InlineData("'99999999999h' is not a duration", "--simulation", "inject:rate=1,during=99999999999h")]
    [InlineData("unknown key 'foo'", "--simulation", "inject:rate=1,during=1s,foo=2")]
    [InlineData("unknown key 'interval'", "--simulation", "constant:copies=1,interval=1s,during=1s")]
    [InlineData("'rate' is given twice", "--simulation", "inject:rate=1,rate=50,during=1s")]
    [InlineData("unknown simulation 'constnt'", "--simulation", "constnt:copies=1,during=1s")]
    [InlineData("parameter 'paht' is not used by plain-get", "--param", "paht=/orders/1")]
    [InlineData("parameter keys='many' is not an integer", "--param", "keys=many")]
    [InlineData("parameter expect='abc': 'abc' is not an HTTP status", "--param", "expect=abc")]
    [InlineData("parameter expect='200,99999999999': '99999999999' is not an HTTP status", "--param", "expect=200,99999999999")]
    [InlineData("parameter expect=',' names no HTTP status", "--param", "expect=,")]
    [InlineData("--simulation: every phase is a pause", "--simulation", "pause:1s")]
    [InlineData("cannot be mixed", "--simulation", "inject:rate=1,during=1s", "--simulation", "constant:copies=1,during=1s")]
    [InlineData("--simulation: no phase produces load", "--simulation", "ramp-inject:rate=0,during=1s")]
    [InlineData("--simulation: no phase produces load", "--simulation", "ramp-constant:copies=0,during=1s", "--simulation", "pause:1s")]
    [InlineData("--scenario 'plain-get' is given twice", "--scenario", "plain-get")]
    [InlineData("Threshold 'jwt-rbac:fail%<1' names scenario 'jwt-rbac', which this run does not select (selected: plain-get)", "--threshold", "jwt-rbac:fail%<1")]
    [InlineData("more than one edge-load process can start", "--simulation", "inject:rate=100000000,during=1s")]
    [InlineData("--report-folder '/proc/edge-load-test/x' cannot be created", "--report-folder", "/proc/edge-load-test/x")]
    public async Task RunAsync_BadArgument_ReturnsUsageExitCodeNamingIt(string expected, params string[] extra)
    {
        var stderr = new StringWriter();
        string[] args = ["run", "--scenario", "plain-get", "--target", "http://127.0.0.1:9", "-q", .. extra];
        if (!extra.Contains("--simulation"))
        {
            args = [.. args, "--simulation", "inject:rate=1,during=1s"];
        }

        if (!extra.Contains("--report-folder"))
        {
            args = [.. args, "--report-folder", TestBackends.TempFolder("bad-arg")];
        }

        var exit = await CliApp.RunAsync(args, new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains(expected, stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain-get", "also-targets entry 'notaurl' is not an http(s) URL", "also-targets=notaurl")]
    [InlineData("jwt-rbac", "alg must be HS256, RS256 or ES256, not 'XX'", "alg=XX")]
    [InlineData("tenant-limit", "auth must be none or jwt, not 'basic'", "auth=basic")]
    [InlineData("mixed", "weights must be non-negative and not all zero", "plain-weight=-1")]
    public async Task RunAsync_BadScenarioParameterValue_ReturnsUsageExitCodeNamingIt(string scenario, string expected, string parameter)
    {
        // A value no scenario can use is a usage error like keys=many, not "the run could not start" (exit 3).
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "-s", scenario, "-t", "http://127.0.0.1:9", "-p", parameter, "--simulation", "inject:rate=1,during=1s", "-o", TestBackends.TempFolder("bad-param"), "-q"],
            new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains(expected, stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_TargetDown_FailsNamingTheScenarioAndTopStatusWithoutPrintingUnmeasuredLatency()
    {
        // Every request fails fast with a refused connection; no threshold was given, as in a CI job that only checks the exit code.
        var folder = TestBackends.TempFolder("dead");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", TestBackends.DeadTarget(), "--simulation", "constant:copies=2,during=1s", "-o", folder, "-q"],
            stdout, stderr);

        Assert.Equal(ExitCodes.ThresholdFailed, exit);
        Assert.Contains("plain-get: no ok responses", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("most often http_connectionerror", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("plain-get: ok=0", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("no ok responses", stdout.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("p50=", stdout.ToString(), StringComparison.Ordinal);

        var md = File.ReadAllLines(Path.Combine(folder, "report.md"));
        Assert.Contains("| global | ok | 0 | 0 | - | - | - | - | - | - | - | - | - | 0 |", md);
        Assert.Contains(md, l => l.StartsWith("- FAILED: plain-get: no ok responses", StringComparison.Ordinal));
        var csvOk = File.ReadAllLines(Path.Combine(folder, "report.csv")).Single(l => l.StartsWith("plain-get,global,ok,", StringComparison.Ordinal)).Split(',');
        Assert.All(csvOk[5..13], cell => Assert.Equal("", cell));
        var html = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.Contains("<td class=\"name\">ok</td><td>0</td><td>0</td><td>-</td>", html, StringComparison.Ordinal);
        Assert.Contains("FAILED: plain-get: no ok responses", html, StringComparison.Ordinal);
        Assert.Contains("<p id=\"verdict\" class=\"fail\">FAILED: no ok responses (below)</p>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500", "500")]
    [InlineData("abort", "http_")]
    public async Task RunAsync_HalfTheRequestsFailWithoutAThreshold_FailsOnTheDefaultBudget(string failure, string status)
    {
        // Every other request answered 500 (or its connection aborted): the run passed (exit 0, "thresholds: none")
        // because a few ok responses came back, so a CI job that only checks the exit code passed a broken target.
        var served = 0;
        var (app, url) = await TestBackends.StartKestrelAsync(context =>
        {
            if (Interlocked.Increment(ref served) % 2 == 0)
            {
                if (failure == "abort")
                {
                    context.Abort();
                    return Task.CompletedTask;
                }

                context.Response.StatusCode = 500;
            }

            return Task.CompletedTask;
        });
        await using var _ = app;
        var folder = TestBackends.TempFolder("half-failed");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", url.ToString(), "--simulation", "constant:copies=2,during=1s", "-o", folder, "-q"],
            stdout, stderr);

        Assert.Equal(ExitCodes.ThresholdFailed, exit);
        Assert.Contains("threshold plain-get/global: FAILED: fail% < 1 (default)", stderr.ToString(), StringComparison.Ordinal);
        var md = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("- thresholds: FAILED", md, StringComparison.Ordinal);
        Assert.Contains("| plain-get | global | `fail% < 1` (default) |", md, StringComparison.Ordinal);
        Assert.Contains("| global | fail | " + status, md, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_FailThresholdGiven_ReplacesTheDefaultBudget()
    {
        // An overload test that expects failures says how many it accepts; the default then does not apply.
        var served = 0;
        var (app, url) = await TestBackends.StartKestrelAsync(context =>
        {
            context.Response.StatusCode = Interlocked.Increment(ref served) % 2 == 0 ? 503 : 200;
            return Task.CompletedTask;
        });
        await using var _ = app;
        var folder = TestBackends.TempFolder("budget-given");

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", url.ToString(), "--simulation", "constant:copies=2,during=1s", "-o", folder, "--threshold", "fail% <= 60", "-q"],
            new StringWriter(), new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
        var md = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("| plain-get | global | `fail% <= 60` |", md, StringComparison.Ordinal);
        Assert.DoesNotContain("`fail% < 1` (default)", md, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ClosedModelWithWarmUp_ReportsTheWarmUpRequestsTheTargetServed()
    {
        // bench.sh divides each process's CPU time over the whole run by the requests; a closed model's warm-up count was
        // guessed from the measured rate, which a cold process does not reach.
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var folder = TestBackends.TempFolder("warm");

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", server.Url!, "--simulation", "constant:copies=2,during=1s", "--warmup", "500ms", "-o", folder, "-q"],
            new StringWriter(), new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
        var lines = File.ReadAllLines(Path.Combine(folder, "report.csv"));
        var column = Array.IndexOf(lines[0].Split(','), "warmup_requests");
        Assert.True(column >= 0, "no warmup_requests column: " + lines[0]);
        var ok = lines.Single(l => l.StartsWith("plain-get,global,ok,", StringComparison.Ordinal)).Split(',');
        var fail = lines.Single(l => l.StartsWith("plain-get,global,fail,", StringComparison.Ordinal)).Split(',');
        var warm = long.Parse(ok[column], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(warm > 0);
        Assert.Equal(server.LogEntries.Count(), warm + long.Parse(ok[3], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fail[3], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"- warm-up (not counted): 0.5 s, {warm} requests;"), File.ReadAllText(Path.Combine(folder, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_OneStepOfAMixNeverOk_FailsNamingTheStep()
    {
        // A wrong webhook secret: every webhook is refused while plain and JWT requests pass, so the whole scenario has
        // plenty of ok responses and, without a per-step threshold, the run passed.
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/hooks/github").UsingPost()).RespondWith(Response.Create().WithStatusCode(401));
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        server.Given(Request.Create().WithPath("/orders/1").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var folder = TestBackends.TempFolder("mixed-dead-step");
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "-s", "mixed", "-t", server.Url!, "--simulation", "inject:rate=60,during=1s",
             "--param", "key=" + TestBackends.SecretFile("a-test-only-hs256-key-of-at-least-32-bytes"),
             "--param", "secret=" + TestBackends.SecretFile("It's a Secret to Everybody"),
             "--param", "plain-weight=1", "--param", "jwt-weight=1", "--param", "webhook-weight=1", "-o", folder, "-q"],
            new StringWriter(), stderr);

        Assert.Equal(ExitCodes.ThresholdFailed, exit);
        Assert.Contains("failed: mixed/webhook: no ok responses", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("most often 401", stderr.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("mixed/plain-get", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StoppedMidRun_WritesPartialReportAndReturnsInterrupted()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var folder = TestBackends.TempFolder("stopped");
        var stderr = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", server.Url!, "--simulation", "inject:rate=20,during=30s", "-o", folder, "--threshold", "fail% < 50", "-q"],
            new StringWriter(), stderr, stop.Token);

        Assert.Equal(ExitCodes.Interrupted, exit);
        Assert.Contains("interrupted", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("(cancelled)", File.ReadAllText(Path.Combine(folder, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StoppedMidRun_ReportVerdictSaysInterruptedNotPassed()
    {
        // The run exits 130, yet its report.md said "thresholds: all passed" and report.html showed a green "all
        // thresholds passed": a stopped run's report, opened later as a CI artifact, read as a passed gate, with only
        // "(cancelled)" in the measured line to say otherwise.
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
        var folder = TestBackends.TempFolder("stopped-verdict");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));

        var exit = await CliApp.RunAsync(
            ["run", "-s", "plain-get", "-t", server.Url!, "--simulation", "inject:rate=20,during=30s", "-o", folder, "--threshold", "fail% < 50", "-q"],
            new StringWriter(), new StringWriter(), stop.Token);

        Assert.Equal(ExitCodes.Interrupted, exit);
        var md = File.ReadAllLines(Path.Combine(folder, "report.md"));
        Assert.DoesNotContain("- thresholds: all passed", md);
        Assert.Contains(md, l => l.StartsWith("- INTERRUPTED: ", StringComparison.Ordinal));
        var html = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.Contains("<p id=\"verdict\" class=\"fail\">INTERRUPTED", html, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "report.json")));
        Assert.True(json.RootElement.GetProperty("interrupted").GetBoolean());
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        var scenario = json.RootElement.GetProperty("scenarios")[0];
        Assert.True(scenario.GetProperty("cancelled").GetBoolean());
        var global = scenario.GetProperty("steps")[0];
        Assert.Equal(scenario.GetProperty("sent").GetInt64(), global.GetProperty("requests").GetInt64());
        foreach (var outcome in new[] { "ok", "fail" })
        {
            var o = global.GetProperty(outcome);
            Assert.Equal(o.GetProperty("count").GetInt64(), o.GetProperty("statusCodes").EnumerateObject().Sum(static c => c.Value.GetInt64()));
        }
    }

    [Fact]
    public async Task RunAsync_NoTarget_ReturnsUsageExitCode()
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["run", "-s", "plain-get", "--simulation", "inject:rate=1,during=1s", "-q"], new StringWriter(), stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--target is required", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingSecret_ReturnsRunFailedWithClearMessage()
    {
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "-s", "jwt-rbac", "-t", "http://127.0.0.1:9", "--simulation", "inject:rate=1,during=1s", "-p", "key=env:EDGE_LOAD_TEST_UNSET_KEY", "-o", TestBackends.TempFolder("nokey")],
            new StringWriter(), stderr);

        Assert.Equal(ExitCodes.RunFailed, exit);
        Assert.Contains("EDGE_LOAD_TEST_UNSET_KEY' is not set", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_TokenWithZeroLifetime_UsageErrorAndNoToken()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["token", "--key", TestBackends.SecretFile("a-test-only-hs256-key-of-at-least-32-bytes"), "--lifetime", "0s"], stdout, stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Equal("", stdout.ToString());
        Assert.Contains("token: --lifetime must be positive, got '0s'.", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Token_PrintsAThreePartJwtWithTheGivenTenant()
    {
        var stdout = new StringWriter();

        var exit = await CliApp.RunAsync(["token", "--key", TestBackends.SecretFile("a-test-only-hs256-key-of-at-least-32-bytes"), "--tenant", "globex"], stdout, new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
        var parts = stdout.ToString().Trim().Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Contains("\"tenant_id\":\"globex\"", System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])), StringComparison.Ordinal);
    }
}
