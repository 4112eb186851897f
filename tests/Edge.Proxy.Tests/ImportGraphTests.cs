using System.Xml.Linq;

namespace Edge.Proxy.Tests;

/// <summary>Capability folders must not import each other in a cycle: a request hop never goes back.</summary>
public sealed class ImportGraphTests
{
    private static readonly string[] Capabilities = ["Approvals", "Auditing", "Authorization", "RateLimiting", "Tenancy", "ThreatProtection", "Validation", "Webhooks"];

    [Theory]
    [InlineData("Tenancy", "Authorization")]
    [InlineData("Authorization", "Tenancy")]
    [InlineData("Auditing", "Approvals")]
    [InlineData("Approvals", "Auditing")]
    [InlineData("Approvals", "Authorization")]
    public void Imports_CapabilityFolder_DoesNotImportTheOther(string folder, string forbidden)
    {
        var offenders = FilesImporting(Path.Combine("src", "Edge.Proxy", folder), $"Edge.Proxy.{forbidden}");

        Assert.Empty(offenders);
    }

    /// <summary>The pipeline is the contract every capability builds on; it reaches them only through its interfaces.</summary>
    [Fact]
    public void Imports_PipelineFolder_ImportsNoCapability()
    {
        var offenders = Capabilities.SelectMany(capability => FilesImporting("src/Edge.Proxy/Pipeline", $"Edge.Proxy.{capability}")).ToList();

        Assert.Empty(offenders);
    }

    /// <summary>Threat protection counts other capabilities' refusals by their stable codes, never by importing them.</summary>
    [Theory]
    [InlineData("Authorization")]
    [InlineData("RateLimiting")]
    [InlineData("Webhooks")]
    [InlineData("Tenancy")]
    [InlineData("Auditing")]
    public void Imports_ThreatProtection_ImportsNoOtherCapability(string forbidden)
    {
        Assert.Empty(FilesImporting(Path.Combine("src", "Edge.Proxy", "ThreatProtection"), $"Edge.Proxy.{forbidden}"));
    }

    /// <summary>Configuration is what every capability builds on; capabilities register into it, never the reverse.</summary>
    [Theory]
    [InlineData("src/Edge.Proxy/Configuration", "Edge.Proxy")]
    [InlineData("src/Edge.Proxy/Configuration", "Edge.Configuration")]
    [InlineData("src/Edge.Configuration/Configuration", "Edge.Configuration")]
    public void Imports_ConfigurationFolder_ImportsNoCapability(string folder, string namespacePrefix)
    {
        var offenders = Capabilities.SelectMany(capability => FilesImporting(folder, $"{namespacePrefix}.{capability}")).ToList();

        Assert.Empty(offenders);
    }

    /// <summary><c>edge config validate</c> runs the configuration library's validation, not the proxy host.</summary>
    [Theory]
    [InlineData("src/Edge.Cli/Edge.Cli.csproj")]
    [InlineData("src/Edge.AuditWriter/Edge.AuditWriter.csproj")]
    public void ProjectReferences_Tool_DoNotIncludeEdgeProxy(string project)
    {
        var references = XDocument.Load(Path.Combine(RepositoryRoot(), project))
            .Descendants("ProjectReference")
            .Select(reference => (string?)reference.Attribute("Include"))
            .ToList();

        Assert.Contains(references, reference => reference!.EndsWith("Edge.Configuration.csproj", StringComparison.Ordinal));
        Assert.DoesNotContain(references, reference => reference!.EndsWith("Edge.Proxy.csproj", StringComparison.Ordinal));
    }

    private static List<string> FilesImporting(string folder, string importedNamespace)
    {
        var directory = Path.Combine(RepositoryRoot(), folder);
        var files = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories).ToList();
        Assert.True(files.Count > 0, $"no sources found in {directory}");
        return files
            .Where(file => File.ReadLines(file).Any(line => line.Trim() == $"using {importedNamespace};"))
            .Select(file => Path.GetRelativePath(RepositoryRoot(), file))
            .ToList();
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }
}
