using System.Diagnostics;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Stops sending rate-limit decisions to a Redis that failed or missed its deadline <see cref="FailureThreshold"/>
/// times in a row over at least <see cref="MinFailureSpan"/>: a short stall (a busy host, a GC pause) makes the calls
/// in flight miss their deadline together and must not switch every later decision to the outage mode; a real outage
/// lasts longer. Until the breaker opens each decision still waits at most its deadline. While open, decisions go straight to the policy's outage mode. After <see cref="BreakDuration"/>
/// one request at a time probes Redis; a success closes the breaker, a failure opens it again. Real time only: this
/// is about I/O, not about the rate-limit clock.
/// </summary>
internal sealed class RedisCircuitBreaker(int failureThreshold, TimeSpan breakDuration, TimeSpan minFailureSpan)
{
    private int _consecutiveFailures;
    private long _firstFailure;
    private long _openUntil;
    private int _probing;

    public int FailureThreshold { get; } = failureThreshold;

    public TimeSpan BreakDuration { get; } = breakDuration;

    public TimeSpan MinFailureSpan { get; } = minFailureSpan;

    public bool IsOpen => Volatile.Read(ref _openUntil) != 0;

    /// <summary>
    /// True while open and not yet due for a probe, or while the one probe is in flight (half-open): callers go straight
    /// to the outage mode. A decision that arrived during a probe used to queue behind it (a hot key's coalesced strict
    /// batch, a lease claim) and waited as long as the probe did, up to a deadline or more on a silent node; on a
    /// blackholed cluster master those waits were the p99 of the blackhole measurement.
    /// </summary>
    public bool IsShortCircuiting
    {
        get
        {
            var openUntil = Volatile.Read(ref _openUntil);
            return openUntil != 0 && (Stopwatch.GetTimestamp() < openUntil || Volatile.Read(ref _probing) != 0);
        }
    }

    /// <summary>True when this request may call Redis; false while open (except for the single probe).</summary>
    public bool TryEnter(out bool isProbe)
    {
        isProbe = false;
        var openUntil = Volatile.Read(ref _openUntil);
        if (openUntil == 0)
        {
            return true;
        }

        if (Stopwatch.GetTimestamp() < openUntil)
        {
            return false;
        }

        isProbe = Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
        return isProbe;
    }

    /// <summary>Time until the next probe; used for Retry-After on 503.</summary>
    public TimeSpan RemainingOpen()
    {
        var openUntil = Volatile.Read(ref _openUntil);
        return openUntil == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), Math.Max(openUntil, Stopwatch.GetTimestamp()));
    }

    public void OnSuccess(bool isProbe)
    {
        Volatile.Write(ref _consecutiveFailures, 0);
        if (isProbe || Volatile.Read(ref _openUntil) != 0)
        {
            Volatile.Write(ref _openUntil, 0);
            Volatile.Write(ref _probing, 0);
        }
    }

    /// <summary>
    /// The connection to the node is back (the client reconnected): let the next decision probe now instead of after
    /// the rest of the break, so shared limiting resumes as soon as Redis does. A failing probe opens it again.
    /// </summary>
    public void ProbeNow()
    {
        var openUntil = Volatile.Read(ref _openUntil);
        var now = Stopwatch.GetTimestamp();
        if (openUntil > now)
        {
            Interlocked.CompareExchange(ref _openUntil, now, openUntil);
        }
    }

    /// <summary>Returns true when this failure opened the breaker.</summary>
    public bool OnFailure(bool isProbe)
    {
        if (isProbe)
        {
            Open();
            Volatile.Write(ref _probing, 0);
            return true;
        }

        var now = Stopwatch.GetTimestamp();
        if (Interlocked.Increment(ref _consecutiveFailures) == 1)
        {
            Volatile.Write(ref _firstFailure, now);
        }

        if (Volatile.Read(ref _consecutiveFailures) >= FailureThreshold
            && Stopwatch.GetElapsedTime(Volatile.Read(ref _firstFailure), now) >= MinFailureSpan
            && Volatile.Read(ref _openUntil) == 0)
        {
            Open();
            return true;
        }

        return false;
    }

    private void Open()
    {
        Volatile.Write(ref _openUntil, Stopwatch.GetTimestamp() + (long)(BreakDuration.TotalSeconds * Stopwatch.Frequency));
        Volatile.Write(ref _consecutiveFailures, 0);
    }
}
