namespace Tally.Metering;

/// <summary>Minutes charged in the UTC hour that starts at <see cref="HourStart"/>. An hour with no bucket had no usage.</summary>
public readonly record struct HourlyUsage(DateTimeOffset HourStart, long Minutes);

/// <summary>Which estimate a projected hour's rate came from, from the most specific to none at all.</summary>
public enum RateSource : byte
{
    /// <summary>The mean of the same weekday and local hour.</summary>
    Slot,
    /// <summary>The mean of the same local hour on the same class of day (Monday–Friday, or Saturday–Sunday).</summary>
    DayClassHour,
    /// <summary>The mean of the same local hour on any day.</summary>
    HourOfDay,
    /// <summary>The mean of every observed hour.</summary>
    Overall,
    /// <summary>No history: the current period's average (consumed ÷ elapsed hours).</summary>
    PeriodLinear,
    /// <summary>Nothing to go on: a rate of zero.</summary>
    None,
}

/// <summary>A projected rate in minutes per hour and where it came from.</summary>
public readonly record struct HourlyRate(double MinutesPerHour, RateSource Source);

/// <summary>
/// Mean minutes per hour for each (weekday, hour-of-day) slot of the license's time zone, learned from a trailing
/// window of hourly buckets. Immutable once learned. Only whole UTC hours inside <c>[historyStart, historyEnd)</c>
/// are observed, and an observed hour without a bucket counts as zero: silence is data, unlike an hour outside the
/// window. Weekday and hour are those of the hour's start in the zone, so a half-hour zone files a UTC hour under
/// the local hour it starts in.
/// </summary>
public sealed class HourlyRateProfile
{
    private const int Slots = 7 * 24;
    private readonly double[] _slotSum;
    private readonly double[] _slotWeight;
    private readonly double[] _classSum = new double[2 * 24];
    private readonly double[] _classWeight = new double[2 * 24];
    private readonly double[] _hourSum = new double[24];
    private readonly double[] _hourWeight = new double[24];
    private readonly double _overallSum;
    private readonly double _overallWeight;

    private HourlyRateProfile(TimeZoneInfo timeZone, double[] slotSum, double[] slotWeight, int observedHours)
    {
        TimeZone = timeZone;
        _slotSum = slotSum;
        _slotWeight = slotWeight;
        ObservedHours = observedHours;
        for (var slot = 0; slot < Slots; slot++)
        {
            var hour = slot % 24;
            var dayClass = ClassOf((DayOfWeek)(slot / 24));
            _classSum[(dayClass * 24) + hour] += slotSum[slot];
            _classWeight[(dayClass * 24) + hour] += slotWeight[slot];
            _hourSum[hour] += slotSum[slot];
            _hourWeight[hour] += slotWeight[slot];
            _overallSum += slotSum[slot];
            _overallWeight += slotWeight[slot];
        }
    }

    public TimeZoneInfo TimeZone { get; }

    /// <summary>Whole hours of history the profile saw (with or without usage).</summary>
    public int ObservedHours { get; }

    /// <summary>
    /// Learns the profile. <paramref name="recencyHalfLife"/>, when set, weights an hour by
    /// <c>0.5^(age / half-life)</c> so recent weeks count more; null weighs every hour alike.
    /// Buckets not on an hour boundary are filed under the hour they fall in; buckets outside the window are ignored.
    /// </summary>
    public static HourlyRateProfile Learn(
        IEnumerable<HourlyUsage> history,
        DateTimeOffset historyStart,
        DateTimeOffset historyEnd,
        TimeZoneInfo timeZone,
        TimeSpan? recencyHalfLife = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(timeZone);
        var first = CeilHour(historyStart.UtcTicks);
        var end = FloorHour(historyEnd.UtcTicks);
        var minutes = new Dictionary<long, long>();
        foreach (var bucket in history)
        {
            var hour = FloorHour(bucket.HourStart.UtcTicks);
            if (hour >= first && hour < end)
            {
                minutes[hour] = minutes.GetValueOrDefault(hour) + bucket.Minutes;
            }
        }

        var slotSum = new double[Slots];
        var slotWeight = new double[Slots];
        var observed = 0;
        for (var hour = first; hour < end; hour += TimeSpan.TicksPerHour)
        {
            var weight = recencyHalfLife is { Ticks: > 0 } halfLife
                ? Math.Pow(0.5, (end - hour) / (double)halfLife.Ticks)
                : 1;
            var slot = SlotOf(hour, timeZone);
            slotSum[slot] += weight * minutes.GetValueOrDefault(hour);
            slotWeight[slot] += weight;
            observed++;
        }
        return new HourlyRateProfile(timeZone, slotSum, slotWeight, observed);
    }

    /// <summary>
    /// The rate for the hour containing <paramref name="instant"/>, falling back from the weekday slot to the
    /// day class, the hour of day, then the overall mean; <see cref="RateSource.None"/> (0) with no history.
    /// </summary>
    public HourlyRate RateAt(DateTimeOffset instant)
    {
        var slot = SlotOf(FloorHour(instant.UtcTicks), TimeZone);
        var hour = slot % 24;
        var classIndex = (ClassOf((DayOfWeek)(slot / 24)) * 24) + hour;
        return _slotWeight[slot] > 0 ? new(_slotSum[slot] / _slotWeight[slot], RateSource.Slot)
            : _classWeight[classIndex] > 0 ? new(_classSum[classIndex] / _classWeight[classIndex], RateSource.DayClassHour)
            : _hourWeight[hour] > 0 ? new(_hourSum[hour] / _hourWeight[hour], RateSource.HourOfDay)
            : _overallWeight > 0 ? new(_overallSum / _overallWeight, RateSource.Overall)
            : new(0, RateSource.None);
    }

    /// <summary>The start of the UTC hour holding <paramref name="utcTicks"/>.</summary>
    public static long FloorHour(long utcTicks) => utcTicks - (((utcTicks % TimeSpan.TicksPerHour) + TimeSpan.TicksPerHour) % TimeSpan.TicksPerHour);

    /// <summary>The first UTC hour boundary at or after <paramref name="utcTicks"/>.</summary>
    public static long CeilHour(long utcTicks)
    {
        var floor = FloorHour(utcTicks);
        return floor == utcTicks ? floor : floor + TimeSpan.TicksPerHour;
    }

    private static int SlotOf(long utcHourTicks, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(utcHourTicks, DateTimeKind.Utc), zone);
        return ((int)local.DayOfWeek * 24) + local.Hour;
    }

    private static int ClassOf(DayOfWeek day) => day is DayOfWeek.Saturday or DayOfWeek.Sunday ? 1 : 0;
}
