using Edge.Proxy.Configuration;

namespace Edge.Proxy.Tests.Configuration;

public sealed class ProxyConfigFileValidatorTests
{
    [Fact]
    public async Task ValidateAsync_ShippedProxyJsonWithSampleSecrets_NoErrors()
    {
        var root = RepositoryRoot();
        LoadSampleEnvironment(Path.Combine(root, "config", ".env.example"));

        var errors = await ProxyConfigFileValidator.ValidateAsync(Path.Combine(root, "proxy.json"));

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task ValidateAsync_UnknownStepAndMissingCluster_ReportsBothWithLocations()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, """
        { "ReverseProxy": {
            "Routes": { "r1": { "ClusterId": "nope", "Match": { "Path": "/x" }, "Transforms": [ { "EdgeWarp": "9" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
        """);
        try
        {
            var errors = await ProxyConfigFileValidator.ValidateAsync(path);

            Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:ClusterId");
            Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:Transforms[0]:EdgeWarp" && e.Message.Contains("unknown edge step", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }

    private static void LoadSampleEnvironment(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        foreach (var line in File.ReadAllLines(path))
        {
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#') || !trimmed.Contains('='))
            {
                continue;
            }

            var index = trimmed.IndexOf('=');
            var name = trimmed[..index].Trim();
            if (Environment.GetEnvironmentVariable(name) is null)
            {
                Environment.SetEnvironmentVariable(name, trimmed[(index + 1)..].Trim().Trim('"'));
            }
        }
    }
}
