using System.Diagnostics;
using Edge.Load.Stats;

namespace Edge.Load.Scenarios;

/// <summary>Passed to every invocation of a scenario's step.</summary>
public sealed class ScenarioContext
{
    private readonly ScenarioStats _stats;

    // Open model: the invocation's intended send time, taken by its first sub-step. Measured from the step's own start,
    // the first step hid what the whole invocation shows (a late dispatch, a queued work item): a threshold on
    // "mixed/webhook: p99" then read lower than the same requests' global p99. 0 once taken, and in the closed model.
    private long _firstStepFrom;
    private long _stepBytes;
    private int _stepsRun;

    internal ScenarioContext(string scenarioName, long invocationNumber, ScenarioStats stats, CancellationToken cancellationToken, long intendedTimestamp = 0)
    {
        ScenarioName = scenarioName;
        InvocationNumber = invocationNumber;
        _stats = stats;
        CancellationToken = cancellationToken;
        _firstStepFrom = intendedTimestamp;
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
        var now = Stopwatch.GetTimestamp();
        var intended = Interlocked.Exchange(ref _firstStepFrom, 0);
        var started = intended != 0 && intended < now ? intended : now;
        Response response;
        try
        {
            response = await run().ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (CancellationToken.IsCancellationRequested)
        {
            // The run was stopped (Ctrl+C): like every request in flight then, 'cancelled'; 'exception' means the scenario threw.
            response = Response.Fail("cancelled", message: ex.GetType().Name);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            response = Response.Fail("exception", message: ex.GetType().Name);
        }

        _stats.CompletedStep(name, response, Stopwatch.GetTimestamp() - started);
        Interlocked.Add(ref _stepBytes, response.SizeBytes);
        Interlocked.Increment(ref _stepsRun);
        return response;
    }

    /// <summary>How many sub-steps this invocation ran; the whole invocation's bytes and HTTP versions are then theirs.</summary>
    internal int StepsRun => Volatile.Read(ref _stepsRun);

    /// <summary>Bytes of every sub-step this invocation ran, ok or failed.</summary>
    internal long StepBytes => Interlocked.Read(ref _stepBytes);
}
