using Edge.Load.Simulations;
using Edge.Load.Thresholds;

namespace Edge.Load.Scenarios;

/// <summary>
/// A named scenario: an optional init, the step run on every invocation, the load simulations that drive it,
/// an uncounted warm-up and the thresholds that gate the run.
/// </summary>
public sealed record ScenarioDefinition
{
    public required string Name { get; init; }

    public required Func<ScenarioContext, Task<Response>> Run { get; init; }

    public Func<ScenarioInitContext, Task>? Init { get; init; }

    public IReadOnlyList<LoadSimulation> Simulations { get; init; } = [];

    public TimeSpan WarmUp { get; init; }

    public IReadOnlyList<Threshold> Thresholds { get; init; } = [];

    public ScenarioDefinition WithInit(Func<ScenarioInitContext, Task> init) => this with { Init = init };

    public ScenarioDefinition WithLoadSimulations(params LoadSimulation[] simulations) => this with { Simulations = simulations };

    public ScenarioDefinition WithWarmUp(TimeSpan duration) => this with { WarmUp = duration };

    public ScenarioDefinition WithoutWarmUp() => this with { WarmUp = TimeSpan.Zero };

    public ScenarioDefinition WithThresholds(params Threshold[] thresholds) => this with { Thresholds = thresholds };
}

/// <summary>Entry point for writing scenarios in C#, in the spirit of NBomber's <c>Scenario.Create</c>.</summary>
public static class Scenario
{
    public static ScenarioDefinition Create(string name, Func<ScenarioContext, Task<Response>> run) =>
        new() { Name = name, Run = run };
}
