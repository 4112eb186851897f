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

    /// <summary>
    /// Ask for HTTP/2 (h2c with prior knowledge on http://, ALPN on https://). Applies to the client the run creates; a
    /// supplied <see cref="HttpClient"/> must come from <c>LoadHttpClient.Create(timeout, http2: true)</c>. The reports
    /// name the version asked for and count the responses that came back on another.
    /// </summary>
    public bool Http2 { get; init; }

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where live progress goes; null for none.</summary>
    public TextWriter? Progress { get; init; }

    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long to wait for in-flight invocations after the last phase ends.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
