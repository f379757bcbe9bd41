using System.Text.Json;
using System.Text.Json.Serialization;
using Tally.Contract;
using Tally.Metering;

namespace Tally.Cli;

/// <summary>
/// A metered log's idle-reload figures (R14) as the server's <c>/api/v1/usage/waste</c> contract, so the CLI's JSON
/// and the API's read the same, and the figures <c>--close-idle-after</c> compares.
/// </summary>
internal static class WasteReports
{
    /// <summary>
    /// <paramref name="period"/>'s waste report: shares are fractions (0–1) of the period's consumed and included
    /// minutes; the users and apps are those with an idle-reload unit, most idle minutes first, at most <paramref name="limit"/>.
    /// </summary>
    public static WasteReport Of(MeterResult r, Period period, int limit)
    {
        var waste = r.Waste.Of(period);
        var usage = r.Tally.Periods().FirstOrDefault(p => p.Period == period);
        var consumed = usage?.ConsumedMinutes ?? 0;
        var included = usage?.IncludedMinutes ?? r.Options.Pool?.IncludedMinutes;
        return WasteReportBuilder.Build(period.ToString(), r.Meter.Calendar.Start(period), r.Meter.Calendar.End(period), r.Options.TimeZone.Id,
            (int)r.Waste.Quiet.TotalMinutes, consumed, included,
            waste.Users.Select(u => new WasteUserRow(r.Log.Users.NameOf(u.Key), u.Value.IdleUnits, u.Value.IdleMinutes, u.Value.ReloadUnits, u.Value.ReloadMinutes)),
            waste.Apps.Select(a => new WasteAppRow(r.Log.Apps.NameOf(a.Key), a.Value.IdleUnits, a.Value.IdleMinutes, a.Value.ReloadUnits, a.Value.ReloadMinutes,
                waste.IdleUsersByApp.GetValueOrDefault(a.Key))),
            [.. waste.Hours.Select((f, hour) => new WasteHourRow(hour, f.IdleUnits, f.IdleMinutes, f.ReloadUnits, f.ReloadMinutes))], limit);
    }

    /// <summary>Every period the log metered or reloaded in, in order.</summary>
    public static IReadOnlyList<Period> PeriodsOf(MeterResult r) =>
        [.. r.Tally.Periods().Select(p => p.Period).Concat(r.Waste.Periods().Select(w => w.Period)).Distinct().Order()];

    /// <summary>
    /// The close-idle what-if per period of either run, in order, then the whole log as "total": consumed minutes as
    /// metered, with the policy, and the idle-reload minutes as metered. Saved is the net difference: with a pool that
    /// ran out, minutes saved early can grant later events that were denied as metered.
    /// </summary>
    public static IReadOnlyList<CloseIdleRow> CloseIdle(MeterResult asIs, MeterResult withPolicy)
    {
        static Dictionary<Period, long> Consumed(MeterResult r) => r.Tally.Periods().ToDictionary(p => p.Period, p => p.ConsumedMinutes);
        var (before, after) = (Consumed(asIs), Consumed(withPolicy));
        var idle = asIs.Waste.Periods().ToDictionary(w => w.Period, w => w.Total.IdleMinutes);
        List<CloseIdleRow> rows = [.. before.Keys.Union(after.Keys).Order().Select(p =>
            new CloseIdleRow(p.ToString(), before.GetValueOrDefault(p), after.GetValueOrDefault(p), idle.GetValueOrDefault(p)))];
        rows.Add(new CloseIdleRow("total", rows.Sum(r => r.ConsumedMinutes), rows.Sum(r => r.WithPolicyMinutes), rows.Sum(r => r.IdleReloadMinutes)));
        return rows;
    }

}

/// <summary>One period (or the total) of the close-idle what-if: minutes consumed as metered and with the policy.</summary>
internal sealed record CloseIdleRow(string Period, long ConsumedMinutes, long WithPolicyMinutes, long IdleReloadMinutes)
{
    public long SavedMinutes => ConsumedMinutes - WithPolicyMinutes;
}

/// <summary>
/// The waste report's JSON as the server writes its contract types (camelCase). Generated at build time: the reflection
/// serializer's first use cost <c>tally meter --format json</c> about 0.15 s of a 2M-event run's write.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(WasteReport))]
internal sealed partial class WasteJson : JsonSerializerContext;
