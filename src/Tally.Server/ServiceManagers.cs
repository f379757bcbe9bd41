using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.WindowsServices;

namespace Tally.Server;

/// <summary>
/// <c>tally serve</c> under a service manager: a Windows service or a systemd unit (Type=notify). Started any other
/// way (a terminal, a container, the tests) nothing here changes anything.
/// </summary>
internal static class ServiceManagers
{
    /// <summary>The data folder of a Windows service unless configured: %ProgramData%\Tally\data.</summary>
    public static string WindowsServiceData =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "Tally", "data");

    /// <summary>
    /// A Windows service starts in System32, so its content root (appsettings.json) is the executable's folder.
    /// </summary>
    public static WebApplicationOptions Options(string[] args) => new()
    {
        Args = args,
        ContentRootPath = WindowsServiceHelpers.IsWindowsService() ? AppContext.BaseDirectory : null,
    };

    /// <summary>
    /// Defaults that sit under every configuration source. A service's working directory is System32, where the
    /// usual ./data would land, so a Windows service keeps its ledger under ProgramData instead.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults() =>
        WindowsServiceHelpers.IsWindowsService() ? [new("Tally:Data", WindowsServiceData)] : [];

    /// <summary>
    /// Service lifetimes: stop on the Windows service's stop request; under systemd, READY=1 on NOTIFY_SOCKET once
    /// the server listens (the ledger is open and the meters rebuilt by then) and STOPPING=1 on shutdown.
    /// </summary>
    public static void Use(WebApplicationBuilder builder)
    {
        builder.Host.UseWindowsService(o => o.ServiceName = "Tally");
        builder.Host.UseSystemd();
    }
}
