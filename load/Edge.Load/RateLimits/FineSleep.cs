using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Edge.Load.RateLimits;

/// <summary>
/// Sub-millisecond sleeps for the open model's dispatcher thread on Linux: <c>clock_nanosleep</c>, with the calling
/// thread's timer slack (50 µs by default, added to every timed wait) lowered to 1 µs. .NET's own timed waits round
/// to milliseconds. Elsewhere <see cref="TryEnable"/> returns false and the caller keeps millisecond sleeps.
/// </summary>
internal static class FineSleep
{
    private const int PrSetTimerSlack = 29;
    private const int ClockMonotonic = 1;
    private const long TimerSlackNanoseconds = 1000;

    /// <summary>Lowers this thread's timer slack; false where fine sleeps are not available.</summary>
    public static bool TryEnable()
    {
        if (!OperatingSystem.IsLinux() || Stopwatch.Frequency != 1_000_000_000)
        {
            return false;
        }

        try
        {
            return NativeMethods.prctl(PrSetTimerSlack, (nuint)TimerSlackNanoseconds, 0, 0, 0) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>CPU time of the calling thread in nanoseconds (Linux <c>/proc/thread-self/schedstat</c>), or -1.</summary>
    public static long ThreadCpuNanoseconds()
    {
        try
        {
            var text = File.ReadAllText("/proc/thread-self/schedstat");
            return long.TryParse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ns) ? ns : -1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return -1;
        }
    }

    /// <summary>Sleeps about <paramref name="ticks"/> Stopwatch ticks (nanoseconds on Linux); an interrupted sleep just returns early.</summary>
    public static void For(long ticks)
    {
        var span = new NativeMethods.Timespec { Seconds = ticks / 1_000_000_000, Nanoseconds = ticks % 1_000_000_000 };
        _ = NativeMethods.clock_nanosleep(ClockMonotonic, 0, ref span, IntPtr.Zero);
    }

    private static class NativeMethods
    {
        [StructLayout(LayoutKind.Sequential)]
        public struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [DllImport("libc", SetLastError = false)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

        [DllImport("libc", SetLastError = false)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int clock_nanosleep(int clockId, int flags, ref Timespec request, IntPtr remaining);
    }
}
