using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;

namespace Edge.Load.Reporting;

/// <summary>
/// Where and with what a run was measured: numbers handed on without the machine, its load and the tool's build
/// cannot be compared with the next run's, and on a shared machine the load average explains most of the difference.
/// </summary>
public sealed record RunEnvironment
{
    public required string Host { get; init; }

    public required int Cores { get; init; }

    public required string Os { get; init; }

    public required string Runtime { get; init; }

    public required string GcMode { get; init; }

    /// <summary>The tool's informational version: its version and the git commit it was built from (version+sha).</summary>
    public required string ToolVersion { get; init; }

    /// <summary>"Release", or "Debug" for a build without JIT optimisation, whose generator may itself be the bottleneck.</summary>
    public required string ToolBuild { get; init; }

    /// <summary>/proc/loadavg's 1, 5 and 15 minute averages when the run started and ended; null where there is none.</summary>
    public string? LoadAverageAtStart { get; init; }

    public string? LoadAverageAtEnd { get; init; }

    public string Text => string.Create(CultureInfo.InvariantCulture,
        $"host {Host}, {Cores} cores, {Os}, {Runtime}, {GcMode} GC; edge-load {ToolVersion} ({ToolBuild}); load average {LoadAverageAtStart ?? "unknown"} at the start, {LoadAverageAtEnd ?? "unknown"} at the end");

    internal static RunEnvironment Capture()
    {
        var assembly = typeof(RunEnvironment).Assembly;
        var optimized = assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
        return new RunEnvironment
        {
            Host = Environment.MachineName,
            Cores = Environment.ProcessorCount,
            Os = $"{RuntimeInformation.OSDescription.Trim()} {RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}",
            Runtime = RuntimeInformation.FrameworkDescription,
            GcMode = GCSettings.IsServerGC ? "server" : "workstation",
            ToolVersion = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ToolBuild = optimized ? "Release" : "Debug",
            LoadAverageAtStart = LoadAverage(),
        };
    }

    internal static string? LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
