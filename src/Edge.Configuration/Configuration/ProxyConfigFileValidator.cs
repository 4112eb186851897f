using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Configuration;

/// <summary>
/// Validates a proxy.json file offline with exactly the rules a running edge applies on load and reload
/// (used by <c>edge config validate</c> and CI pipelines before a deploy): the same
/// <see cref="EdgeConfigurationServiceCollectionExtensions.AddEdgeConfigurationValidation"/> services the edge uses.
/// </summary>
public static class ProxyConfigFileValidator
{
    /// <param name="path">The proxy.json to check.</param>
    /// <param name="identityHeaderPrefix">
    /// The edge's <c>Edge:IdentityHeaderPrefix</c>, the one host setting the rules read (forwarded tenant header, approval
    /// token header, API-key header); null for the default <c>X-Edge-</c>.
    /// </param>
    public static Task<IReadOnlyList<ConfigError>> ValidateAsync(string path, string? identityHeaderPrefix = null)
        => ValidateAsync(path, identityHeaderPrefix, configureServices: null);

    /// <param name="configureServices">Adds to the validation services (tests add a check that throws).</param>
    internal static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string path, string? identityHeaderPrefix, Action<IServiceCollection>? configureServices)
    {
        var errors = new ConfigErrorList();
        byte[] bytes;
        try
        {
            bytes = await BoundedFile.ReadAllBytesAsync(path, BoundedFile.MaxConfigBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Worded as the running edge words it (FileProxyConfigProvider), so both say the same about the same file.
            errors.Add("proxy.json", BoundedFile.DescribeConfigReadFailure(ex, path));
            return errors.Items;
        }

        var options = new EdgeHostOptions { ProxyConfigPath = Path.GetFullPath(path) };
        if (identityHeaderPrefix is not null)
        {
            options = options with { IdentityHeaderPrefix = identityHeaderPrefix };
        }

        var services = new ServiceCollection();
        services.AddLogging(logging => logging.ClearProviders());
        services.AddSingleton(options);
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddEdgeConfigurationValidation();
        configureServices?.Invoke(services);

        await using var provider = services.BuildServiceProvider();
        try
        {
            var parsed = provider.GetRequiredService<ProxyJsonReader>().Parse(bytes, errors);
            if (parsed is not null)
            {
                await provider.GetRequiredService<EdgeConfigValidator>().ValidateAsync(parsed, errors);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Worded as the running edge words a check that throws (FileProxyConfigProvider): an error line and exit
            // code 1 for the CI pipeline that runs this, not a stack trace.
            errors.Add("proxy.json", $"the config could not be validated ({ex.GetType().Name}: {ex.Message}); this is a bug in the edge, please report it");
        }

        return errors.Items;
    }
}
