using Edge.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>
/// Logs a settings file (<c>appsettings.json</c>) edited into invalid JSON while the edge runs: the edge keeps the settings
/// it last read from it, as a refused proxy.json keeps the last good config, and says so once per failed read.
/// </summary>
internal static partial class SettingsFileLog
{
    public static void Subscribe(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SettingsFileLog).FullName!);
        app.Services.GetRequiredService<SettingsFileErrors>().Subscribe((file, error) => Log.SettingsFileRefused(logger, file, error));
    }

    private static partial class Log
    {
        [LoggerMessage(1610, LogLevel.Error, "Settings file {File} could not be read after it changed; the settings last read from it stay in effect until it is fixed: {Error}")]
        public static partial void SettingsFileRefused(ILogger logger, string file, string error);
    }
}
