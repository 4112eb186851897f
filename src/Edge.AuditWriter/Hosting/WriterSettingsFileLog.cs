using Edge.Configuration;

namespace Edge.AuditWriter.Hosting;

/// <summary>
/// Logs a settings file (<c>appsettings.json</c>) edited into invalid JSON while the writer runs: the writer keeps the
/// settings it last read from it and says so once per failed read.
/// </summary>
internal static partial class WriterSettingsFileLog
{
    public static void Subscribe(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WriterSettingsFileLog).FullName!);
        app.Services.GetRequiredService<SettingsFileErrors>().Subscribe((file, error) => Log.SettingsFileRefused(logger, file, error));
    }

    private static partial class Log
    {
        [LoggerMessage(2185, LogLevel.Error, "Settings file {File} could not be read after it changed; the settings last read from it stay in effect until it is fixed: {Error}")]
        public static partial void SettingsFileRefused(ILogger logger, string file, string error);
    }
}
