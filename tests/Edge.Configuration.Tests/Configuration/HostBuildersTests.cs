using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace Edge.Configuration.Tests.Configuration;

public sealed class HostBuildersTests : IDisposable
{
    private readonly string _contentRoot = Directory.CreateTempSubdirectory("edge-host-builder-").FullName;

    [Fact]
    public async Task Create_ContentRootWithManyFolders_AddsNoInotifyWatchForThem()
    {
        // The default builder watches the content root and every folder below it (one inotify watch each).
        const int Folders = 300;
        for (var i = 0; i < Folders; i++)
        {
            Directory.CreateDirectory(Path.Combine(_contentRoot, "data", i.ToString(CultureInfo.InvariantCulture)));
        }

        var before = InotifyWatches();
        await using var app = HostBuilders.Create([$"--contentRoot={_contentRoot}"]).Build();

        var added = InotifyWatches() - before;
        Assert.True(added < Folders, $"{added} inotify watches added for {Folders} folders");
    }

    [Fact]
    public void Create_AppSettingsFiles_AreReadFromTheContentRootAndFollowed()
    {
        var builder = HostBuilders.Create([$"--contentRoot={_contentRoot}", "--environment=Staging"]);

        var settings = ((IConfigurationBuilder)builder.Configuration).Sources.OfType<JsonConfigurationSource>()
            .Where(s => s.Path is "appsettings.json" or "appsettings.Staging.json").ToList();
        Assert.Equal(2, settings.Count);
        Assert.All(settings, s => Assert.IsType<HostBuilders.PolledJsonConfigurationSource>(s));
        Assert.All(settings, s => Assert.True(s.Optional));
        var providers = ((IConfigurationRoot)builder.Configuration).Providers.OfType<JsonConfigurationProvider>()
            .Where(p => p.Source.Path is "appsettings.json" or "appsettings.Staging.json").ToList();
        Assert.Equal(2, providers.Count);
        Assert.All(providers, p =>
        {
            Assert.True(p.Source.ReloadOnChange);
            var files = Assert.IsType<PhysicalFileProvider>(p.Source.FileProvider);
            Assert.Equal(_contentRoot.TrimEnd('/') + "/", files.Root);
        });
    }

    [Theory]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void Create_OperatorChoseReloadConfigOnChange_GetsTheDefaultBuildersBehaviourForIt(string chosen, bool reloads)
    {
        var builder = HostBuilders.Create([$"--contentRoot={_contentRoot}", $"--hostBuilder:reloadConfigOnChange={chosen}"]);

        var settings = ((IConfigurationRoot)builder.Configuration).Providers.OfType<JsonConfigurationProvider>()
            .Single(p => p.Source.Path == "appsettings.json");
        Assert.Equal(reloads, settings.Source.ReloadOnChange);
        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;
        Assert.DoesNotContain(sources, s => s is HostBuilders.PolledJsonConfigurationSource);
    }

    [Fact]
    public async Task Create_AppSettingsEditedWhileRunning_IsReadAgain()
    {
        var file = Path.Combine(_contentRoot, "appsettings.json");
        await File.WriteAllTextAsync(file, """{ "Probe": "before" }""");
        await using var app = HostBuilders.Create([$"--contentRoot={_contentRoot}"]).Build();
        Assert.Equal("before", app.Configuration["Probe"]);

        await File.WriteAllTextAsync(file, """{ "Probe": "after" }""");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(1));

        // Polled every 4 s: give it a few polls.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (app.Configuration["Probe"] != "after" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal("after", app.Configuration["Probe"]);
    }

    [Fact]
    public async Task Create_AppSettingsBrokenWhileRunning_KeepsTheLastGoodSettingsAndReportsTheFileAndError()
    {
        // An edit that left appsettings.json invalid was dropped without a word, and the file's settings with it: every
        // value it set (a log level, Kestrel's endpoints) fell back to its default until the next good edit.
        var file = Path.Combine(_contentRoot, "appsettings.json");
        await File.WriteAllTextAsync(file, """{ "Probe": "before" }""");
        await using var app = HostBuilders.Create([$"--contentRoot={_contentRoot}"]).Build();
        var errors = app.Services.GetRequiredService<SettingsFileErrors>();
        var reported = new TaskCompletionSource<(string File, string Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
        errors.Subscribe((path, error) => reported.TrySetResult((path, error)));

        await File.WriteAllTextAsync(file, """{ "Probe": "after", """);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(1));

        // Polled every 4 s: give it a few polls.
        var (path, error) = await reported.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(file, path);
        Assert.Contains("LineNumber: 0", error, StringComparison.Ordinal);
        Assert.Equal("before", app.Configuration["Probe"]);

        // The next good edit is read as before.
        await File.WriteAllTextAsync(file, """{ "Probe": "fixed" }""");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(2));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (app.Configuration["Probe"] != "fixed" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal("fixed", app.Configuration["Probe"]);
    }

    public void Dispose() => Directory.Delete(_contentRoot, recursive: true);

    /// <summary>inotify watches held by this process (one "inotify wd:" line each in /proc/self/fdinfo).</summary>
    private static int InotifyWatches()
    {
        var watches = 0;
        foreach (var fd in Directory.EnumerateFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == "anon_inode:inotify")
                {
                    var info = File.ReadLines("/proc/self/fdinfo/" + Path.GetFileName(fd));
                    watches += info.Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // An fd closed while enumerating.
            }
        }

        return watches;
    }
}
