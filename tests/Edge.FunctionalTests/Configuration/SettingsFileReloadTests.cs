using Edge.Testing;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// appsettings.json edited into invalid JSON while a real edge runs: the operator must hear of it (a refused proxy.json
/// edit is logged and shown; this one was dropped without a word, and the file's settings with it).
/// </summary>
public sealed class SettingsFileReloadTests
{
    [Fact]
    public async Task AppSettingsJson_EditedIntoInvalidJsonWhileRunning_LoggedAtErrorWithTheFile()
    {
        var contentRoot = Directory.CreateTempSubdirectory("edge-settings-reload-").FullName;
        var settingsFile = Path.Combine(contentRoot, "appsettings.json");
        await File.WriteAllTextAsync(settingsFile, """{ "Probe": "before" }""");
        var log = LogFile.NewPath();
        var settings = LogFile.Settings(log);
        settings["contentRoot"] = contentRoot;
        try
        {
            await using var edge = await EdgeHost.StartAsync(
                ProxyJson.Create("http://127.0.0.1:9/", new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }), settings);

            await File.WriteAllTextAsync(settingsFile, """{ "Probe": "value-7c1e", """);
            File.SetLastWriteTimeUtc(settingsFile, DateTime.UtcNow.AddSeconds(1));

            // Polled every 4 s: give it a few polls.
            string? line = null;
            for (var i = 0; i < 200 && line is null; i++)
            {
                await Task.Delay(100);
                line = (await LogFile.ReadLinesAsync(log)).FirstOrDefault(l => l.StartsWith("Edge.Proxy.Configuration.SettingsFileLog|Error|", StringComparison.Ordinal));
            }

            Assert.NotNull(line);
            Assert.Contains(settingsFile, line, StringComparison.Ordinal);
            Assert.Contains("LineNumber: 0", line, StringComparison.Ordinal);
            Assert.DoesNotContain("value-7c1e", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
            Directory.Delete(contentRoot, recursive: true);
        }
    }
}
