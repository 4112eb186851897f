using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Configuration;

internal static class EdgeHostOptionsExtensions
{
    public static EdgeHostOptions AddEdgeHostOptions(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(EdgeHostOptions.SectionName).Get<EdgeHostOptions>() ?? new EdgeHostOptions();
        // Relative to the working directory, like --urls and every other path an operator passes on the command line.
        options = options with { ProxyConfigPath = Path.GetFullPath(options.ProxyConfigPath) };

        var managementUrls = ManagementUrls.Parse(options.ManagementUrls);
        // Fail at startup, not on the first request, when a trusted-proxy entry is malformed.
        _ = Pipeline.ClientAddressResolver.ParseTrustedProxies(options.TrustedProxies);
        var proxyUrls = builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? "http://127.0.0.1:8080";
        builder.WebHost.UseUrls([.. proxyUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), .. managementUrls.Urls]);

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(managementUrls);
        builder.Services.TryAddSingleton(TimeProvider.System);
        return options;
    }
}
