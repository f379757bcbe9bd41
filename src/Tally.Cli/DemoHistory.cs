using Tally.Cli.Generation;
using Tally.Metering;
using Tally.Server.Demo;

namespace Tally.Cli;

/// <summary>The demo's history: the deterministic event generator run for the demo cast, one seed per month.</summary>
public static class DemoHistory
{
    public static IEnumerable<HistoricalEvent> Month(Period month)
    {
        var options = new GeneratorOptions
        {
            Events = DemoSetup.EventsPerMonth,
            Users = DemoSetup.Users,
            Apps = DemoSetup.Apps,
            Month = month,
            Seed = (ulong)((month.Year * 100) + month.Month),
        };
        var generated = new EventGenerator(options).Generate();
        var prefix = "demo-" + month.ToString() + "-";
        for (var i = 0; i < generated.Events.Length; i++)
        {
            var e = generated.Events[i];
            yield return new HistoricalEvent(prefix + generated.IdOf(i), generated.TicksOf(e), generated.UserName(e.User),
                generated.DeviceName(e.User, e.Device), generated.AppName(e.App), e.Action);
        }
    }
}
