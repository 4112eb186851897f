using System.Diagnostics;
using System.Text;

namespace Edge.FunctionalTests.Auditing;

/// <summary>A built service run as a real process (<c>dotnet &lt;dll&gt;</c>) that a test can SIGKILL and restart.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly string _dll;
    private readonly string[] _args;
    private readonly StringBuilder _log = new();
    private Process? _process;

    public ChildProcess(string dll, params string[] args)
    {
        _dll = dll;
        _args = args;
    }

    public string RecentOutput
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The build output of a project under src/, in the configuration the tests were built with.</summary>
    public static string BuildOutput(string project)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testOutput.Parent!.Name;
        var root = testOutput;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Edge.sln")))
        {
            root = root.Parent;
        }

        var dll = Path.Combine(root!.FullName, "src", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build {project} first ({configuration}).", dll);
    }

    public void Start()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(_dll);
        foreach (var arg in _args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_gcServer"] = "0";
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>kill -9: no shutdown hooks, no flush.</summary>
    public void KillHard()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, so the host shuts down gracefully (the edge drains its spool).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process is not { HasExited: false })
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            KillHard();
        }
    }

    /// <summary>The exit code once the process ended by itself within <paramref name="timeout"/>; null while it still runs.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process!.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        KillHard();
        _process?.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.Length > 64 * 1024)
            {
                _log.Remove(0, _log.Length - 32 * 1024);
            }

            _log.AppendLine(line);
        }
    }
}
