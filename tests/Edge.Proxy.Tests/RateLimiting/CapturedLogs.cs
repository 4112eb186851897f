using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>Keeps every log entry the services write (event id, level, rendered message) for a test to inspect.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    public ConcurrentQueue<(EventId Id, LogLevel Level, string Message)> Entries { get; } = new();

    /// <summary>The structured values of each entry (what a JSON log sink writes besides the message).</summary>
    public ConcurrentQueue<(EventId Id, IReadOnlyList<KeyValuePair<string, object?>> Values)> Values { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Entries.Enqueue((eventId, logLevel, formatter(state, exception)));
            owner.Values.Enqueue((eventId, state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
        }
    }
}
