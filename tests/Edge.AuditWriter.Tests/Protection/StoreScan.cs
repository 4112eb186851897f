using System.Text;

namespace Edge.AuditWriter.Tests.Protection;

/// <summary>Reads every file under a directory and reports which of the given byte patterns occur in which file.</summary>
internal static class StoreScan
{
    /// <summary>A string as UTF-8, UTF-16LE and UTF-16BE bytes.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Encodings(string label, string value) =>
    [
        ($"{label} (UTF-8)", Encoding.UTF8.GetBytes(value)),
        ($"{label} (UTF-16LE)", Encoding.Unicode.GetBytes(value)),
        ($"{label} (UTF-16BE)", Encoding.BigEndianUnicode.GetBytes(value)),
    ];

    public static List<string> Find(string directory, IEnumerable<(string Name, byte[] Bytes)> patterns)
    {
        var list = patterns.ToList();
        var hits = new List<string>();
        // A lock file holds nothing, and the writer holds its lock: opening it here would fail, not find anything.
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)))
        {
            byte[] content;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var memory = new MemoryStream())
            {
                stream.CopyTo(memory);
                content = memory.ToArray();
            }

            foreach (var (name, bytes) in list)
            {
                if (content.AsSpan().IndexOf(bytes) >= 0)
                {
                    hits.Add($"{name} in {Path.GetFileName(file)}");
                }
            }
        }

        return hits;
    }

    /// <summary>How many files were scanned, so a test can show it did look at the database, WAL and keys.</summary>
    public static IReadOnlyList<string> Files(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList()!;
}
