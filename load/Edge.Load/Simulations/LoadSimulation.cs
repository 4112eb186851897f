using System.Globalization;

namespace Edge.Load.Simulations;

/// <summary>One phase of load. Phases run in the order they are listed.</summary>
public abstract record LoadSimulation
{
    public required TimeSpan During { get; init; }

    /// <summary>Open model (requests per second, independent of responses) or closed model (a number of copies looping).</summary>
    internal abstract LoadModel Model { get; }

    public abstract string Describe();

    private protected static string Format(TimeSpan value) => DurationParser.Format(value);
}

internal enum LoadModel
{
    Either,
    Open,
    Closed,
}

/// <summary>Open model: start <see cref="Rate"/> invocations per <see cref="Interval"/>, evenly spaced.</summary>
public sealed record InjectSimulation : LoadSimulation
{
    public required int Rate { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    internal override LoadModel Model => LoadModel.Open;

    internal double RatePerSecond => Rate / Interval.TotalSeconds;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"inject rate={Rate}/{Format(Interval)} during {Format(During)}");
}

/// <summary>Open model: the injection rate moves linearly from the previous phase's rate (0 at the start) to <see cref="Rate"/>.</summary>
public sealed record RampingInjectSimulation : LoadSimulation
{
    public required int Rate { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    internal override LoadModel Model => LoadModel.Open;

    internal double RatePerSecond => Rate / Interval.TotalSeconds;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"ramping inject to rate={Rate}/{Format(Interval)} during {Format(During)}");
}

/// <summary>Closed model: keep <see cref="Copies"/> copies each invoking the scenario in a loop.</summary>
public sealed record KeepConstantSimulation : LoadSimulation
{
    public required int Copies { get; init; }

    internal override LoadModel Model => LoadModel.Closed;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"keep constant copies={Copies} during {Format(During)}");
}

/// <summary>Closed model: the number of copies moves linearly from the previous phase's count (0 at the start) to <see cref="Copies"/>.</summary>
public sealed record RampingConstantSimulation : LoadSimulation
{
    public required int Copies { get; init; }

    internal override LoadModel Model => LoadModel.Closed;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"ramping constant to copies={Copies} during {Format(During)}");
}

/// <summary>No load for a while.</summary>
public sealed record PauseSimulation : LoadSimulation
{
    internal override LoadModel Model => LoadModel.Either;

    public override string Describe() => $"pause during {Format(During)}";
}

/// <summary>Factory methods named after NBomber's load simulations.</summary>
public static class Simulation
{
    public static InjectSimulation Inject(int rate, TimeSpan interval, TimeSpan during) => new() { Rate = rate, Interval = interval, During = during };

    public static RampingInjectSimulation RampingInject(int rate, TimeSpan interval, TimeSpan during) => new() { Rate = rate, Interval = interval, During = during };

    public static KeepConstantSimulation KeepConstant(int copies, TimeSpan during) => new() { Copies = copies, During = during };

    public static RampingConstantSimulation RampingConstant(int copies, TimeSpan during) => new() { Copies = copies, During = during };

    public static PauseSimulation Pause(TimeSpan during) => new() { During = during };
}
