using System.CommandLine;
using Tally.Metering;

namespace Tally.Cli;

/// <summary>
/// The options that say how to meter a file (mode, unit, pool, overage, time zone, session timeout), shared by
/// <c>tally meter</c> and <c>tally report</c> so both accept and refuse the same things with the same words.
/// Each command gets its own instances.
/// </summary>
internal sealed class MeterOptionSet
{
    public Option<string> Mode { get; } = new("--mode") { Description = "device: units per (user, device); app: units per (user, app).", DefaultValueFactory = _ => "device" };
    public Option<int> UnitMinutes { get; } = new("--unit-minutes") { Description = "Minutes per unit.", DefaultValueFactory = _ => MeterOptions.DefaultUnitMinutes };
    public Option<long?> PoolMinutes { get; } = new("--pool-minutes") { Description = "Included minutes per month. Without a pool option Tally meters only." };
    public Option<int?> Packs { get; } = new("--packs") { Description = "Included capacity packs per month (× --pack-minutes)." };
    public Option<int> PackMinutes { get; } = new("--pack-minutes") { Description = "Minutes per pack.", DefaultValueFactory = _ => MeterOptions.DefaultPackMinutes };
    public Option<string> Overage { get; } = new("--overage") { Description = "none, unlimited, or a cap in minutes.", DefaultValueFactory = _ => "none" };
    public Option<string> TimeZone { get; } = new("--timezone") { Description = "IANA time zone whose calendar months are the periods.", DefaultValueFactory = _ => "UTC" };
    public Option<int> SessionTimeout { get; } = new("--session-timeout") { Description = "Minutes of silence after which a session ends.", DefaultValueFactory = _ => MeterOptions.DefaultSessionTimeoutMinutes };

    public Option<int> QuietMinutes { get; } = new("--quiet-minutes")
    {
        Description = "R14: a scheduled reload's unit is an idle-reload unit when its user did not engage on the unit's key in this many minutes before the reload.",
        DefaultValueFactory = _ => IdleReload.DefaultQuietMinutes,
    };

    public IEnumerable<Option> All => [Mode, UnitMinutes, PoolMinutes, Packs, PackMinutes, Overage, TimeZone, SessionTimeout, QuietMinutes];

    /// <summary>The options a license replaces: giving one together with a license is a conflict.</summary>
    public IEnumerable<Option> SetByLicense => [PoolMinutes, Packs, PackMinutes, Overage, Mode, UnitMinutes, TimeZone];

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>
    /// Builds the meter options, the pack size and R14's quiet time (a label on the output, not a meter option: it
    /// changes no decision), or returns the first problem in words that name the option.
    /// </summary>
    public Outcome<(MeterOptions Options, int PackMinutes, TimeSpan Quiet), string> Build(ParseResult parse)
    {
        var packMinutes = parse.GetValue(PackMinutes);
        var mode = parse.GetValue(Mode);
        if (mode is not ("device" or "app"))
        {
            return $"--mode must be device or app, not '{mode}'";
        }
        TimeZoneInfo zone;
        var zoneId = parse.GetValue(TimeZone)!;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        }
        catch (TimeZoneNotFoundException)
        {
            return $"--timezone: unknown time zone '{zoneId}' (use an IANA id such as Europe/Paris)";
        }
        if (packMinutes < 1)
        {
            return "--pack-minutes must be at least 1";
        }
        var overageText = parse.GetValue(Overage)!;
        if (!OverageAllowance.TryParse(overageText, out var overage))
        {
            return $"--overage must be none, unlimited or a number of minutes, not '{overageText}'";
        }
        var poolMinutes = parse.GetValue(PoolMinutes);
        var packs = parse.GetValue(Packs);
        PoolTerms? pool = null;
        if (poolMinutes is not null && packs is not null)
        {
            return "give either --pool-minutes or --packs, not both";
        }
        if (poolMinutes is { } minutes)
        {
            if (minutes < 0)
            {
                return "--pool-minutes must not be negative";
            }
            pool = new PoolTerms(minutes, overage);
        }
        else if (packs is { } packCount)
        {
            if (packCount < 0)
            {
                return "--packs must not be negative";
            }
            pool = PoolTerms.FromPacks(packCount, packMinutes, overage);
        }
        else if (overage != OverageAllowance.None)
        {
            return "--overage needs a pool: give --pool-minutes or --packs";
        }
        var options = new MeterOptions
        {
            Mode = mode == "app" ? CountingMode.App : CountingMode.Device,
            UnitMinutes = parse.GetValue(UnitMinutes),
            SessionTimeoutMinutes = parse.GetValue(SessionTimeout),
            Pool = pool,
            TimeZone = zone,
        };
        if (options.Validate() is { } invalid)
        {
            return invalid;
        }
        var quiet = parse.GetValue(QuietMinutes);
        return IdleReload.CheckQuietMinutes(quiet) is { } problem
            ? $"--quiet-minutes: {problem}, not {quiet}"
            : (options, packMinutes, TimeSpan.FromMinutes(quiet));
    }
}
