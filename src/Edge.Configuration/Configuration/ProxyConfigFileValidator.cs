
namespace Edge.Configuration;

/// <summary>
/// Validates a proxy.json file offline with exactly the rules a running edge applies on load and reload
/// (used by <c>edge config validate</c> and CI pipelines before a deploy).
/// </summary>
public static class ProxyConfigFileValidator
{
    public static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string path)
    {
        var errors = new ConfigErrorList();
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add("proxy.json", $"the file '{path}' cannot be read: {ex.Message}");
            return errors.Items;
        }

        var options = new EdgeHostOptions { ProxyConfigPath = Path.GetFullPath(path) };
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.ClearProviders());
        services.AddMetrics();
        services.AddSingleton(options);
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<EdgeMetrics>();
        services.AddSingleton(new EdgeRedis(null));
        services.AddSingleton<EdgeConfigState>();
        services.AddSingleton<EdgeConfigValidator>();
        services.AddEdgePipeline();
        services.AddEdgeTenancy();
        services.AddEdgeRateLimiting();
        services.AddEdgeWebhooks();
        services.AddEdgeAuthorization();
        services.AddEdgeAuditing();
        services.AddReverseProxy();
        services.AddSingleton<IWebHostEnvironment>(new ValidationEnvironment());

        await using var provider = services.BuildServiceProvider();
        var parsed = provider.GetRequiredService<ProxyJsonReader>().Parse(bytes, errors);
        if (parsed is null)
        {
            return errors.Items;
        }

        await provider.GetRequiredService<EdgeConfigValidator>().ValidateAsync(parsed, errors);
        return errors.Items;
    }

    private sealed class ValidationEnvironment : IWebHostEnvironment
    {
        public string WebRootPath { get; set; } = Directory.GetCurrentDirectory();

        public Microsoft.Extensions.FileProviders.IFileProvider WebRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();

        public string ApplicationName { get; set; } = "edge";

        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();

        public string ContentRootPath { get; set; } = Directory.GetCurrentDirectory();

        public string EnvironmentName { get; set; } = "Production";
    }
}
