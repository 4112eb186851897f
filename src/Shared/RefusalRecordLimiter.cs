namespace Edge.Shared;

/// <summary>
/// Bounds the audit records a caller's refusals add. Where every refusal to a signed-in caller is recorded (erasure on
/// the writer, approval decisions on the edge) and the call itself is no audited request, a caller with any valid
/// credential could otherwise grow the tamper-evident log, which only ever grows, by one record per request. Per caller
/// (principal) and fixed window in this process: the first <see cref="RecordedPerWindow"/> refusals are recorded and
/// answered as they are; the next one is answered 429 and recorded once, marking where the flood began; the rest of
/// the window is answered 429 and only counted.
/// </summary>
internal sealed class RefusalRecordLimiter(TimeProvider time)
{
    public const int RecordedPerWindow = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // Callers are principals of the configured credentials; past this many, callers whose window ended are forgotten.
    private const int PruneAbove = 1024;

    private readonly Dictionary<string, CallerWindow> _callers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>What to do with the caller's refusal now; <paramref name="retryAfter"/> is the rest of its window.</summary>
    public RefusalAdmission Admit(string principal, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_callers.TryGetValue(principal, out var window) || now >= window.Start + Window)
            {
                if (_callers.Count >= PruneAbove)
                {
                    foreach (var caller in _callers.Where(entry => now >= entry.Value.Start + Window).Select(entry => entry.Key).ToList())
                    {
                        _callers.Remove(caller);
                    }
                }

                window = new CallerWindow(now);
                _callers[principal] = window;
            }

            window.Refusals++;
            retryAfter = window.Start + Window - now;
            return window.Refusals <= RecordedPerWindow ? RefusalAdmission.Record
                : window.Refusals == RecordedPerWindow + 1 ? RefusalAdmission.RecordLimit
                : RefusalAdmission.CountOnly;
        }
    }

    /// <summary>A Retry-After value: whole seconds, at least 1.</summary>
    public static string RetryAfterSeconds(TimeSpan retryAfter) =>
        Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed class CallerWindow(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; } = start;

        public int Refusals { get; set; }
    }
}

internal enum RefusalAdmission
{
    /// <summary>Recorded and answered as refused.</summary>
    Record,

    /// <summary>The first refusal over the limit: answered 429 and recorded once as rate limited.</summary>
    RecordLimit,

    /// <summary>Answered 429 and counted, not recorded.</summary>
    CountOnly,
}
