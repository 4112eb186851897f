namespace Edge.Testing;

/// <summary>
/// An edge's Serilog output in a file of its own, one <c>SourceContext|Level|Message</c> line per event: the console is
/// shared by every test of the process.
/// </summary>
public static class LogFile
{
    /// <summary>A fresh path in the temp folder; the caller deletes it.</summary>
    public static string NewPath() => Path.Combine(Path.GetTempPath(), $"edge-log-{Guid.NewGuid():N}.txt");

    /// <summary>Host settings that add the file sink at <paramref name="path"/>.</summary>
    public static Dictionary<string, string?> Settings(string path) => new()
    {
        ["Serilog:WriteTo:9:Name"] = "File",
        ["Serilog:WriteTo:9:Args:path"] = path,
        ["Serilog:WriteTo:9:Args:outputTemplate"] = "{SourceContext}|{Level}|{Message:lj}{NewLine}",
    };

    /// <summary>The lines written so far (none before the sink created the file), while the sink may still be writing.</summary>
    public static async Task<string[]> ReadLinesAsync(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return (await reader.ReadToEndAsync()).Split('\n').Select(line => line.TrimEnd('\r')).ToArray();
    }
}
