using System.Globalization;

namespace Tally.Metering;

/// <summary>
/// A billing period: one calendar month in the license's time zone (R7). <see cref="TryParse"/> accepts only
/// <see cref="MinValue"/> to <see cref="MaxValue"/>: the months whose start and end are instants in every time zone, so
/// nothing downstream computes a bound that <see cref="DateTime"/> cannot hold.
/// </summary>
public readonly record struct Period(int Year, int Month) : IComparable<Period>
{
    /// <summary>The first period: 0001-01 starts before year 1 anywhere east of UTC.</summary>
    public static readonly Period MinValue = new(1, 2);

    /// <summary>The last period: 9999-12 ends at 10000-01-01, which no instant reaches.</summary>
    public static readonly Period MaxValue = new(9999, 11);

    /// <summary>What <see cref="TryParse"/> accepts, in words for a refusal.</summary>
    public const string Expected = "a month YYYY-MM from 0001-02 to 9999-11";

    /// <summary>Months since year 0: a dense, ordered index for dictionaries and arithmetic.</summary>
    public int Index => (Year * 12) + Month - 1;

    public static Period FromIndex(int index) => new(index / 12, (index % 12) + 1);

    public Period Next => FromIndex(Index + 1);

    public int CompareTo(Period other) => Index.CompareTo(other.Index);

    /// <summary>The wire form, <c>YYYY-MM</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{Month:D2}");

    public static bool TryParse(ReadOnlySpan<char> text, out Period period)
    {
        period = default;
        if (text.Length != 7 || text[4] != '-'
            || !int.TryParse(text[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var year)
            || !int.TryParse(text[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var month)
            || year < 1 || month is < 1 or > 12)
        {
            return false;
        }
        var parsed = new Period(year, month);
        if (parsed.CompareTo(MinValue) < 0 || parsed.CompareTo(MaxValue) > 0)
        {
            return false;
        }
        period = parsed;
        return true;
    }
}

/// <summary>
/// Maps instants to calendar-month periods in one time zone. The zone's rules are data handed in by the shell;
/// this type only computes. It caches the last period's bounds because events arrive in time order, so almost
/// every lookup is a two-comparison hit.
/// </summary>
public sealed class PeriodCalendar
{
    private long _cachedStart = long.MaxValue;
    private long _cachedEnd = long.MinValue;
    private Period _cached;

    public PeriodCalendar(TimeZoneInfo timeZone) => TimeZone = timeZone;

    public TimeZoneInfo TimeZone { get; }

    /// <summary>The period containing the UTC instant <paramref name="utcTicks"/>.</summary>
    public Period PeriodOf(long utcTicks)
    {
        if (utcTicks >= _cachedStart && utcTicks < _cachedEnd)
        {
            return _cached;
        }
        var local = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(utcTicks, DateTimeKind.Utc), TimeZone);
        var period = new Period(local.Year, local.Month);
        _cachedStart = StartTicks(period);
        _cachedEnd = StartTicks(period.Next);
        _cached = period;
        return period;
    }

    public Period PeriodOf(DateTimeOffset instant) => PeriodOf(instant.UtcTicks);

    /// <summary>
    /// The UTC instant the period starts: local midnight on the 1st. Where a zone skips midnight (a DST gap),
    /// the period starts at the first local instant that exists; where midnight happens twice, at the first.
    /// </summary>
    public long StartTicks(Period period)
    {
        var localMidnight = new DateTime(period.Year, period.Month, 1, 0, 0, 0, DateTimeKind.Unspecified);
        while (TimeZone.IsInvalidTime(localMidnight))
        {
            localMidnight = localMidnight.AddMinutes(1);
        }
        // For an ambiguous local time the larger offset is the earlier instant.
        var offset = TimeZone.IsAmbiguousTime(localMidnight)
            ? TimeZone.GetAmbiguousTimeOffsets(localMidnight).Max()
            : TimeZone.GetUtcOffset(localMidnight);
        return localMidnight.Ticks - offset.Ticks;
    }

    public DateTimeOffset Start(Period period) => new(StartTicks(period), TimeSpan.Zero);

    public DateTimeOffset End(Period period) => Start(period.Next);
}
