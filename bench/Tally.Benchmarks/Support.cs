using Tally.Cli.Generation;
using Tally.Metering;

namespace Tally.Benchmarks;

/// <summary>
/// Counts decisions by kind. A struct so that <c>Meter.Apply&lt;TSink&gt;</c> is specialised for it and the call
/// inlines; the counts live in an array because the meter takes the sink by value.
/// </summary>
public readonly struct CountingSink(long[] counts) : IDecisionSink
{
    public void Add(in MeterEvent e, in Decision decision) => counts[(int)decision.Kind]++;
}

/// <summary>A generated month, interned into <see cref="MeterEvent"/>s the way the CLI's reader would.</summary>
public static class GeneratedEvents
{
    public static MeterEvent[] Create(int count, bool withIds, int users = 20_000, int apps = 300, ulong seed = 1)
    {
        var month = new EventGenerator(new GeneratorOptions { Events = count, Users = users, Apps = apps, Seed = seed }).Generate();
        var userTable = new SymbolTable();
        var deviceTable = new SymbolTable();
        var appTable = new SymbolTable();
        var events = new MeterEvent[month.Events.Length];
        for (var i = 0; i < events.Length; i++)
        {
            var g = month.Events[i];
            events[i] = new MeterEvent(
                month.TicksOf(g),
                userTable.Intern(month.UserName(g.User)),
                deviceTable.Intern(month.DeviceName(g.User, g.Device)),
                appTable.Intern(month.AppName(g.App)),
                g.Action,
                withIds ? month.IdOf(i) : null);
        }
        return events;
    }
}
