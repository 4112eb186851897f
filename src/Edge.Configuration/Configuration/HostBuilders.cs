using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;

namespace Edge.Configuration;

/// <summary>The hosts' (the edge's, the audit writer's) <see cref="WebApplicationBuilder"/>.</summary>
public static class HostBuilders
{
    private const string ReloadSetting = "hostBuilder:reloadConfigOnChange";
    private const string NoContentRootWatcher = "--" + ReloadSetting + "=false";

    /// <summary>
    /// <see cref="WebApplication.CreateBuilder(string[])"/>, except that <c>appsettings.json</c> and
    /// <c>appsettings.{Environment}.json</c> are re-read after a change by polling those two files (every 4 s) instead of
    /// through the default <see cref="FileSystemWatcher"/>. That watcher covers the whole content root (the working
    /// directory) and every folder below it: with the audit spool, the local audit file or a writer's store under it, every
    /// write there was an event the process read and filtered on its own thread, and a host started from <c>/</c> (a
    /// systemd unit without <c>WorkingDirectory</c>) would watch the whole filesystem.
    /// </summary>
    /// <remarks>
    /// An operator who sets <c>hostBuilder:reloadConfigOnChange</c> (command line, or a <c>DOTNET_</c> or <c>ASPNETCORE_</c>
    /// environment variable) gets the default builder's behaviour for that value: the tree watcher for <c>true</c>, no
    /// reloading for <c>false</c>.
    /// </remarks>
    public static WebApplicationBuilder Create(string[] args)
    {
        var chosen = new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_").AddEnvironmentVariables("ASPNETCORE_").AddCommandLine(args)
            .Build()[ReloadSetting];
        if (chosen is not null)
        {
            var chosenBuilder = WebApplication.CreateBuilder(args);
            chosenBuilder.Services.AddSingleton(new SettingsFileErrors());
            return chosenBuilder;
        }

        var errors = new SettingsFileErrors();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [NoContentRootWatcher, .. args] });
        builder.Services.AddSingleton(errors);
        IConfigurationBuilder configuration = builder.Configuration;
        var root = builder.Environment.ContentRootPath;
        for (var i = 0; i < configuration.Sources.Count; i++)
        {
            if (configuration.Sources[i] is JsonConfigurationSource { ReloadOnChange: false, Path: { } path } json
                && (path == "appsettings.json" || path == $"appsettings.{builder.Environment.EnvironmentName}.json"))
            {
                configuration.Sources[i] = new PolledJsonConfigurationSource(root, errors) { Path = path, Optional = json.Optional };
            }
        }

        return builder;
    }

    /// <summary>
    /// A JSON file source whose every provider polls the file through a file provider of its own, disposed with it (the
    /// configuration rebuilds every provider when a source is replaced, so a shared one would be disposed under the next).
    /// A file that cannot be parsed when the host is built stops it, as before; one edited into an unparsable state while
    /// the host runs keeps the settings last read from it and is reported to <paramref name="errors"/>. The framework's
    /// provider emptied the file's settings instead (each fell back to its default, a log level or Kestrel's endpoints
    /// included) and threw on the poller's thread, where nothing reported it.
    /// </summary>
    internal sealed class PolledJsonConfigurationSource(string root, SettingsFileErrors errors) : JsonConfigurationSource
    {
        public override IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(
            new JsonConfigurationSource
            {
                FileProvider = new PhysicalFileProvider(root) { UsePollingFileWatcher = true, UseActivePolling = true },
                Path = Path ?? throw new InvalidOperationException("A polled settings file needs a path."),
                Optional = Optional,
                ReloadOnChange = true,
            },
            System.IO.Path.Combine(root, Path),
            errors);

        private sealed class Provider(JsonConfigurationSource source, string file, SettingsFileErrors errors) : JsonConfigurationProvider(source)
        {
            // Set once the first load (when the host is built) has run: every later load is a reload after an edit.
            private bool _built;

            public override void Load()
            {
                try
                {
                    base.Load();
                }
                finally
                {
                    _built = true;
                }
            }

            public override void Load(Stream stream)
            {
                if (!_built)
                {
                    base.Load(stream);
                    return;
                }

                try
                {
                    // Data is replaced only by a whole parse; a failed one leaves the last good settings in place.
                    base.Load(stream);
                }
                catch (FormatException exception)
                {
                    errors.Report(file, Describe(exception));
                }
            }

            protected override void Dispose(bool disposing)
            {
                base.Dispose(disposing);
                if (disposing)
                {
                    (Source.FileProvider as IDisposable)?.Dispose();
                }
            }

            // The JSON reader's message names the line and byte ("... LineNumber: 3 | BytePositionInLine: 7."); a duplicate
            // key's names the key. Neither quotes a value.
            private static string Describe(FormatException exception) =>
                exception.InnerException is { } inner ? exception.Message + " " + inner.Message : exception.Message;
        }
    }
}
