using System.Diagnostics;
using Edge.Load.Stats;

namespace Edge.Load.Scenarios;

/// <summary>Passed to every invocation of a scenario's step.</summary>
public sealed class ScenarioContext
{
    private readonly ScenarioStats _stats;

    internal ScenarioContext(string scenarioName, long invocationNumber, ScenarioStats stats, CancellationToken cancellationToken)
    {
        ScenarioName = scenarioName;
        InvocationNumber = invocationNumber;
        _stats = stats;
        CancellationToken = cancellationToken;
    }

    public string ScenarioName { get; }

    /// <summary>0-based number of this invocation within the scenario run (warm-up has its own numbering).</summary>
    public long InvocationNumber { get; }

    /// <summary>Cancelled when the run is aborted (Ctrl+C), not when a phase ends.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Runs a sub-step whose latency, outcome, status code and bytes are measured separately.</summary>
    public async Task<Response> Step(string name, Func<Task<Response>> run)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var started = Stopwatch.GetTimestamp();
        Response response;
        try
        {
            response = await run().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            response = Response.Fail("exception", message: ex.GetType().Name);
        }

        _stats.Step(name).Record(response, Stopwatch.GetTimestamp() - started);
        return response;
    }
}
