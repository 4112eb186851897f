namespace Edge.Configuration;

/// <summary>How the hosts tell a refused host setting from a defect when startup fails.</summary>
public static class HostSettings
{
    /// <summary>
    /// True when the exception is a refused setting: every check of the edge's and the writer's host settings throws an
    /// <see cref="InvalidOperationException"/> whose message starts with the setting's name (<c>Edge:…</c>,
    /// <c>Writer:…</c>). Anything else keeps its stack trace.
    /// </summary>
    public static bool Names(InvalidOperationException exception) =>
        exception.Message.StartsWith("Edge:", StringComparison.Ordinal) || exception.Message.StartsWith("Writer:", StringComparison.Ordinal);
}
