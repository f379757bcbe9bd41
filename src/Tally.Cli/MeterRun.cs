using Tally.Cli.EventLog;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Cli;

/// <summary>The result of metering a parsed log: the tally, the meter's final state and the names to print.</summary>
internal sealed record MeterResult(ParsedLog Log, Meter Meter, UsageTally Tally, MeterOptions Options, int PackMinutes)
{
    /// <summary>The verified license the run was metered under, if any.</summary>
    public LicenseTerms? License { get; init; }

    /// <summary>The R9 directory, when a license or users file was given.</summary>
    public UserDirectory? Directory { get; init; }
}

internal static class MeterRun
{
    /// <summary>Replays <paramref name="log"/> in time order (R10) through one meter and folds every decision into a tally.</summary>
    public static MeterResult Run(ParsedLog log, MeterOptions options, IUserDirectory? directory, bool keepUnits, int packMinutes = MeterOptions.DefaultPackMinutes)
    {
        var meter = new Meter(options, directory);
        var tally = new UsageTally(options, keepUnits);
        Replay.Run(log.Events, log.IdView, meter, tally, tally.CountEvent);
        return new MeterResult(log, meter, tally, options, packMinutes);
    }
}
