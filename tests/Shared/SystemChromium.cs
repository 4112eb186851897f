using Microsoft.Playwright;

namespace Edge.Testing.Browser;

/// <summary>
/// One headless Chromium per test class, the system's <c>/usr/bin/chromium</c> (never downloaded). Linked as source into
/// the test projects that drive pages, so the load tool, which references Edge.Testing, does not carry Playwright.
/// </summary>
public sealed class SystemChromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: apt-get install -y chromium");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(LaunchOptions());
    }

    /// <summary>The system Chromium's options, headless and sandbox-free, with <paramref name="extraArgs"/> added.</summary>
    public static BrowserTypeLaunchOptions LaunchOptions(params string[] extraArgs) => new()
    {
        ExecutablePath = ExecutablePath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", .. extraArgs],
    };

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
