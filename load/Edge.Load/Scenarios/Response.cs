namespace Edge.Load.Scenarios;

/// <summary>The outcome of one scenario invocation or one sub-step.</summary>
public sealed record Response
{
    /// <summary>Whether the call counts as ok (an expected outcome) or as a failure.</summary>
    public required bool IsOk { get; init; }

    /// <summary>Status code shown in the status-code table, e.g. "200", "429", "timeout".</summary>
    public string StatusCode { get; init; } = "";

    /// <summary>Bytes transferred (request body plus response body).</summary>
    public long SizeBytes { get; init; }

    /// <summary>The HTTP version the response came back on; null when there was no response (or the step is not HTTP).</summary>
    public Version? Version { get; init; }

    /// <summary>Optional short reason for a failure; never a whole body.</summary>
    public string? Message { get; init; }

    public static Response Ok(string statusCode = "ok", long sizeBytes = 0) =>
        new() { IsOk = true, StatusCode = statusCode, SizeBytes = sizeBytes };

    public static Response Fail(string statusCode = "fail", long sizeBytes = 0, string? message = null) =>
        new() { IsOk = false, StatusCode = statusCode, SizeBytes = sizeBytes, Message = message };
}
