namespace Tally.Metering;

/// <summary>
/// A period's bounds as instants, half-open <c>[Start, End)</c>. Invariant: <c>Start &lt; End</c>. Built from a
/// <see cref="PeriodCalendar"/> so month lengths and DST shifts of the license's zone are already in the bounds.
/// </summary>
public readonly record struct PeriodWindow
{
    public PeriodWindow(DateTimeOffset start, DateTimeOffset end)
    {
        if (end <= start)
        {
            throw new ArgumentOutOfRangeException(nameof(end), "a period ends after it starts");
        }
        Start = start;
        End = end;
    }

    public DateTimeOffset Start { get; }

    public DateTimeOffset End { get; }

    public TimeSpan Length => End - Start;

    public bool Contains(DateTimeOffset instant) => instant >= Start && instant < End;

    /// <summary>The share of the period that has passed at <paramref name="now"/>, clamped to [0, 1].</summary>
    public double ElapsedShare(DateTimeOffset now)
    {
        // default(PeriodWindow) has no length; treat it as over rather than divide by zero.
        if (Length.Ticks <= 0)
        {
            return 1;
        }
        return Math.Clamp((now - Start).Ticks / (double)Length.Ticks, 0, 1);
    }

    /// <summary><paramref name="now"/> moved into <c>[Start, End]</c>: before the period nothing has elapsed, after it nothing remains.</summary>
    public DateTimeOffset Clamp(DateTimeOffset now) => now < Start ? Start : now > End ? End : now;

    public static PeriodWindow Of(PeriodCalendar calendar, Period period) => new(calendar.Start(period), calendar.End(period));

    public static PeriodWindow Containing(PeriodCalendar calendar, DateTimeOffset instant) => Of(calendar, calendar.PeriodOf(instant));
}
