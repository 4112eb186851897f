using System.Diagnostics;
using System.Globalization;
using Edge.Testing;

namespace Edge.Load.Allocations;

/// <summary>
/// The real audit writer (Edge.AuditWriter.dll, copied beside edge-load) in its own process, so that an edge in this
/// process ships to it while only the edge's allocations are counted. Killed with its process tree on dispose.
/// </summary>
internal sealed class AuditWriterProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly HttpClient _http;

    private AuditWriterProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        _http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri Url { get; }

    public static async Task<AuditWriterProcess> StartAsync(string directory, CancellationToken cancellationToken)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Edge.AuditWriter.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("the audit writer is not beside edge-load; build load/Edge.Load, which references it.", dll);
        }

        var port = FreePort.Next();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
                     dll,
                     $"--urls=http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
                     $"--Writer:StorePath={Path.Combine(directory, "audit.db")}",
                     $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
                     $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
                     "--Writer:Origin=edge-request-alloc/audit",
                 ])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("the audit writer did not start.");
        var writer = new AuditWriterProcess(process, new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/"));
        process.OutputDataReceived += (_, e) => writer.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => writer.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await writer.WaitForRecordsAsync(0, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await writer.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return writer;
    }

    /// <summary>Waits until the writer's latest signed checkpoint covers at least <paramref name="records"/> records.</summary>
    public async Task WaitForRecordsAsync(long records, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        long size = -1;
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the audit writer exited ({_process.ExitCode}): {LastLines()}");
            }

            try
            {
                var note = await _http.GetStringAsync(new Uri("audit/checkpoint", UriKind.Relative), cancellationToken).ConfigureAwait(false);
                size = long.Parse(note.Split('\n')[1], NumberStyles.None, CultureInfo.InvariantCulture);
                if (size >= records)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"the audit writer's checkpoint covers {size} records after 60 s, not {records}: {LastLines()}");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 20)
            {
                _lastLines.Dequeue();
            }
        }
    }

    private string LastLines()
    {
        lock (_lastLines)
        {
            return string.Join('\n', _lastLines);
        }
    }
}
