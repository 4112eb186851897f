namespace Edge.Load.Thresholds;

public sealed record ThresholdResult
{
    public required Threshold Threshold { get; init; }

    public required string Scenario { get; init; }

    public required string Step { get; init; }

    /// <summary>The measured value, or null when it could not be measured (e.g. no ok responses for a latency check).</summary>
    public double? Actual { get; init; }

    /// <summary>The measured value with its unit ("12.5ms", "0.3%", "480"), "-" when not measured.</summary>
    public string ActualText { get; init; } = "-";

    /// <summary>How many responses the value is computed from: ok responses for a latency, all requests otherwise.</summary>
    public long Sample { get; init; }

    public required bool Passed { get; init; }

    public required string Message { get; init; }
}
