using System.Diagnostics;
using Edge.Load.Scenarios;

namespace Edge.Load.Stats;

/// <summary>Ok and fail statistics of the whole scenario or of one named sub-step.</summary>
internal sealed class StepStats(string name)
{
    public string Name { get; } = name;

    public OutcomeStats Ok { get; } = new();

    public OutcomeStats Fail { get; } = new();

    public void Record(Response response, long elapsedTicks)
    {
        // In 128 bits: ticks are nanoseconds on Linux, and ticks * 1_000_000 overflowed a long past about 2.56 h, well
        // inside the 24 h a --timeout allows, turning a slow response into a 1 µs one.
        var micros = (long)((Int128)elapsedTicks * 1_000_000 / Stopwatch.Frequency);
        (response.IsOk ? Ok : Fail).Record(micros, response.SizeBytes, response.StatusCode);
    }
}
