using Microsoft.AspNetCore.Connections;

namespace Edge.Configuration;

/// <summary>How the hosts (the edge, the audit writer) tell an operator's mistake at startup from a defect.</summary>
public static class HostSettings
{
    /// <summary>
    /// True when the exception is a refused setting: every check of the edge's and the writer's host settings throws an
    /// <see cref="InvalidOperationException"/> whose message starts with the setting's name (<c>Edge:…</c>,
    /// <c>Writer:…</c>, or ASP.NET Core's <c>AllowedHosts</c>). Anything else keeps its stack trace.
    /// </summary>
    public static bool Names(InvalidOperationException exception) =>
        exception.Message.StartsWith("Edge:", StringComparison.Ordinal) || exception.Message.StartsWith("Writer:", StringComparison.Ordinal)
        || exception.Message.StartsWith("AllowedHosts ", StringComparison.Ordinal);

    /// <summary>
    /// Runs a host and maps an operator's mistake to exit code 1 with one line on standard error: an invalid proxy.json
    /// (its errors were logged with their locations), a refused host setting, a port another process holds, or a file
    /// another process holds (<paramref name="heldElsewhere"/>: the spool directory, the writer's store). Unhandled, these
    /// printed the runtime's stack trace and aborted with SIGABRT (134). A defect still surfaces with its stack trace.
    /// </summary>
    public static async Task<int> RunAsync(Func<Task> run, Func<IOException, bool> heldElsewhere)
    {
        try
        {
            await run().ConfigureAwait(false);
            return 0;
        }
        catch (EdgeConfigException invalid)
        {
            await Console.Error.WriteLineAsync(invalid.Message).ConfigureAwait(false);
        }
        catch (InvalidOperationException invalid) when (Names(invalid))
        {
            await Console.Error.WriteLineAsync("error: " + invalid.Message).ConfigureAwait(false);
        }
        catch (IOException taken) when (heldElsewhere(taken) || taken.InnerException is AddressInUseException)
        {
            await Console.Error.WriteLineAsync(taken.Message).ConfigureAwait(false);
        }

        return 1;
    }
}
