using Tally.Cli.EventLog;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Cli;

/// <summary>
/// The result of metering a parsed log: the tally, the meter's final state, the idle-reload figures (R14) and the
/// names to print.
/// </summary>
internal sealed record MeterResult(ParsedLog Log, Meter Meter, UsageTally Tally, ReloadWasteTally Waste, MeterOptions Options, int PackMinutes)
{
    /// <summary>The verified license the run was metered under, if any.</summary>
    public LicenseTerms? License { get; init; }

    /// <summary>The R9 directory, when a license or users file was given.</summary>
    public UserDirectory? Directory { get; init; }

    /// <summary>The same log metered again with <see cref="MeterOptions.CloseIdleAfterMinutes"/> set (<c>--close-idle-after</c>).</summary>
    public MeterResult? WithCloseIdle { get; init; }
}

internal static class MeterRun
{
    /// <summary>
    /// Replays <paramref name="log"/> in time order (R10) through one meter and folds every decision into a tally and
    /// the idle-reload figures with quiet time <paramref name="quiet"/> (R14's default when null).
    /// </summary>
    public static MeterResult Run(ParsedLog log, MeterOptions options, IUserDirectory? directory, bool keepUnits,
        int packMinutes = MeterOptions.DefaultPackMinutes, TimeSpan? quiet = null)
    {
        var meter = new Meter(options, directory);
        var tally = new UsageTally(options, keepUnits);
        var waste = new ReloadWasteTally(meter, quiet ?? TimeSpan.FromMinutes(IdleReload.DefaultQuietMinutes), options.TimeZone);
        Replay.Run(log.Events, log.IdView, meter, new Sinks(tally, waste), tally.CountEvent);
        return new MeterResult(log, meter, tally, waste, options, packMinutes);
    }

    /// <summary>
    /// Both tallies behind one sink. A struct, so the replay's generic loop is compiled for it and calls both directly;
    /// the waste tally returns at its first test for all but scheduled reloads' units, which keeps the big replays' cost.
    /// </summary>
    private readonly struct Sinks(UsageTally tally, ReloadWasteTally waste) : IDecisionSink
    {
        public void Add(in MeterEvent e, in Decision decision)
        {
            tally.Add(e, decision);
            waste.Add(e, decision);
        }
    }
}
