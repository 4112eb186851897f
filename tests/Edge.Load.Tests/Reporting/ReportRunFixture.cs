using Edge.Load.Cli;
using Microsoft.AspNetCore.Builder;

namespace Edge.Load.Tests.Reporting;

/// <summary>One short CLI run (mixed profile, so there are sub-steps) whose report files the tests then read.</summary>
public sealed class ReportRunFixture : IAsyncLifetime
{
    private WebApplication? _backend;

    public string Folder { get; } = TestBackends.TempFolder("report");

    public int ExitCode { get; private set; }

    public async Task InitializeAsync()
    {
        (_backend, var url) = await TestBackends.StartBenchBackendAsync();
        ExitCode = await CliApp.RunAsync(
            ["run", "--scenario", "mixed", "--target", url.ToString(), "--simulation", "inject:rate=40,during=2s",
             "--param", "key=" + TestBackends.SecretFile("a-test-only-hs256-key-of-at-least-32-bytes"),
             "--param", "secret=" + TestBackends.SecretFile("It's a Secret to Everybody"),
             "--param", "plain-weight=1", "--param", "jwt-weight=1", "--param", "webhook-weight=1",
             "--report-folder", Folder, "--threshold", "fail% < 1", "--quiet"],
            new StringWriter(), new StringWriter());
    }

    public async Task DisposeAsync()
    {
        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }
    }
}
