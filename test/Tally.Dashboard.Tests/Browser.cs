using Microsoft.Playwright;

namespace Tally.Dashboard.Tests;

/// <summary>
/// One headless Debian chromium for the whole test run, driven by Playwright. Playwright's own browser download is
/// never used: scripts/install-deps installs the chromium package, and this points Playwright at it.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Instance { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} is missing: run scripts/install-deps (it installs Debian's chromium package).");
        }
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A fresh context (its own cookies) and page at the given width.</summary>
    public async Task<IPage> PageAsync(int width = 1280, int height = 900)
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Instance is not null)
        {
            await Instance.DisposeAsync();
        }
        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<Browser>, ICollectionFixture<DemoServer>
{
    public const string Name = "browser";
}
