using Edge.Configuration;
using Serilog.Events;

namespace Edge.Shared;

/// <summary>
/// Keeps the host's own "Hosting failed to start" log line (with the stack trace) out of the console when
/// <see cref="HostSettings.RunAsync"/> prints that failure as one line: a taken port or a spool or store held by another
/// process. Shared by the edge and the audit writer.
/// </summary>
internal static class StartupFailureLog
{
    public static Func<LogEvent, bool> Repeats(Func<IOException, bool> heldElsewhere) => logEvent =>
        logEvent.Level >= LogEventLevel.Error && logEvent.Exception is not null
        && HostSettings.RepeatsOneLine(Category(logEvent), EventId(logEvent), logEvent.Exception, heldElsewhere);

    private static string? Category(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("SourceContext", out var value) && value is ScalarValue { Value: string category } ? category : null;

    private static int EventId(LogEvent logEvent)
    {
        if (logEvent.Properties.TryGetValue("EventId", out var value) && value is StructureValue eventId)
        {
            foreach (var property in eventId.Properties)
            {
                if (property.Name == "Id" && property.Value is ScalarValue { Value: int id })
                {
                    return id;
                }
            }
        }

        return 0;
    }
}
