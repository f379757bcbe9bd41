using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tally.Server;

/// <summary>
/// Puts idle tenants' meters to sleep (<see cref="TallyOptions.SleepIdleTenantsAfter"/>), checking every tenth of that
/// span on the server's clock, so a vendor with thousands of mostly quiet customers holds only the busy ones' meters.
/// </summary>
public sealed class TenantSleeper(Tenants tenants, TimeProvider time, IOptions<TallyOptions> options, ILogger<TenantSleeper> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var after = options.Value.SleepIdleTenantsAfter;
        if (after <= TimeSpan.Zero)
        {
            return;
        }
        using var timer = new PeriodicTimer(after / 10, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var slept = await tenants.SleepIdleAsync(after).ConfigureAwait(false);
                if (slept > 0)
                {
                    log.LogDebug("Put {Count} idle tenants' meters to sleep.", slept);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
