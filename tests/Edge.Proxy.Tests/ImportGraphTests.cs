using Edge.Proxy.Tests.Configuration;

namespace Edge.Proxy.Tests;

/// <summary>Capability folders must not import each other in a cycle: a request hop never goes back.</summary>
public sealed class ImportGraphTests
{
    [Theory]
    [InlineData("Tenancy", "Authorization")]
    [InlineData("Authorization", "Tenancy")]
    public void Imports_CapabilityFolder_DoesNotImportTheOther(string folder, string forbidden)
    {
        var directory = Path.Combine(ProxyConfigFileValidatorTests.RepositoryRoot(), "src", "Edge.Proxy", folder);

        var offenders = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(file => File.ReadLines(file).Any(line => line.Trim() == $"using Edge.Proxy.{forbidden};"))
            .Select(Path.GetFileName)
            .ToList();

        Assert.True(Directory.EnumerateFiles(directory, "*.cs").Any(), $"no sources found in {directory}");
        Assert.Empty(offenders);
    }
}
