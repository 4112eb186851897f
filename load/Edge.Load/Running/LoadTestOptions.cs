namespace Edge.Load.Running;

/// <summary>Settings for one run of one or more scenarios.</summary>
public sealed record LoadTestOptions
{
    /// <summary>Shown in reports; the CLI uses the report folder's name.</summary>
    public string Title { get; init; } = "edge-load";

    public Uri? Target { get; init; }

    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Supply a client to share your own handler; otherwise the run creates a pooled one.</summary>
    public HttpClient? HttpClient { get; init; }

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where live progress goes; null for none.</summary>
    public TextWriter? Progress { get; init; }

    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long to wait for in-flight invocations after the last phase ends.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
