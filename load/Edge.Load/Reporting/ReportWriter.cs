namespace Edge.Load.Reporting;

/// <summary>Writes report.md, report.html, report.csv, report.json and status-codes.csv into one folder.</summary>
public static class ReportWriter
{
    public static IReadOnlyList<string> WriteAll(RunReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var files = new (string Name, string Content)[]
        {
            ("report.md", MarkdownReport.Render(report)),
            ("report.html", HtmlReport.Render(report)),
            ("report.csv", CsvReport.Render(report)),
            ("report.json", JsonReport.Render(report)),
            ("status-codes.csv", CsvReport.RenderStatusCodes(report)),
        };
        var written = new List<string>(files.Length);
        foreach (var (name, content) in files)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, content);
            written.Add(path);
        }

        return written;
    }
}
