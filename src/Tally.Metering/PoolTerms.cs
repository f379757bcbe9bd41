namespace Tally.Metering;

public enum OverageKind : byte
{
    None,
    Capped,
    Unlimited,
}

/// <summary>Minutes a period may run past its included minutes (R7): none, a capped number, or unlimited.</summary>
public readonly record struct OverageAllowance(OverageKind Kind, long CapMinutes)
{
    public static OverageAllowance None => new(OverageKind.None, 0);

    public static OverageAllowance Unlimited => new(OverageKind.Unlimited, 0);

    public static OverageAllowance Capped(long minutes) =>
        minutes >= 0 ? new(OverageKind.Capped, minutes) : throw new ArgumentOutOfRangeException(nameof(minutes));

    /// <summary>The wire form: <c>none</c>, <c>unlimited</c> or the cap in minutes.</summary>
    public override string ToString() => Kind switch
    {
        OverageKind.None => "none",
        OverageKind.Unlimited => "unlimited",
        _ => CapMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool TryParse(string text, out OverageAllowance allowance)
    {
        allowance = text switch
        {
            "none" or "0" => None,
            "unlimited" => Unlimited,
            _ => default,
        };
        if (text is "none" or "0" or "unlimited")
        {
            return true;
        }
        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var minutes))
        {
            allowance = Capped(minutes);
            return true;
        }
        return false;
    }
}

/// <summary>
/// A tenant's monthly pool (R7). Invariants: <see cref="IncludedMinutes"/> is non-negative, and the limit is
/// included plus the overage allowance (<see cref="long.MaxValue"/> when unlimited).
/// </summary>
public sealed record PoolTerms
{
    public PoolTerms(long includedMinutes, OverageAllowance overage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(includedMinutes);
        IncludedMinutes = includedMinutes;
        Overage = overage;
    }

    public long IncludedMinutes { get; }

    public OverageAllowance Overage { get; }

    public long LimitMinutes => Overage.Kind switch
    {
        OverageKind.Unlimited => long.MaxValue,
        OverageKind.Capped => IncludedMinutes + Overage.CapMinutes,
        _ => IncludedMinutes,
    };

    public static PoolTerms FromPacks(int packs, int packMinutes, OverageAllowance overage) =>
        new((long)packs * packMinutes, overage);
}

/// <summary>How a meter counts. Validated on construction so the engine never sees nonsense.</summary>
public sealed record MeterOptions
{
    public const int DefaultUnitMinutes = 6;
    public const int DefaultSessionTimeoutMinutes = 30;
    public const int DefaultPackMinutes = 1000;

    public CountingMode Mode { get; init; } = CountingMode.Device;

    /// <summary>U: minutes per unit (R1). At least 1.</summary>
    public int UnitMinutes { get; init; } = DefaultUnitMinutes;

    /// <summary>Idle time after which a session and its connections end (R6). At least 1 minute.</summary>
    public int SessionTimeoutMinutes { get; init; } = DefaultSessionTimeoutMinutes;

    /// <summary>The pool; <c>null</c> meters only: every unit is granted (R7).</summary>
    public PoolTerms? Pool { get; init; }

    /// <summary>The zone whose calendar months are the periods (R7).</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>When set, a consuming event outside the window that needs a new unit is denied <c>license-expired</c>.</summary>
    public ValidityWindow? Validity { get; init; }

    /// <summary>
    /// A what-if policy, off (null) unless asked: every connection of a meter key closes when the key's user has not
    /// engaged on it for this many minutes (R14's quiet time), so no scheduled reload charges an idle key. Not a rule of
    /// the book: <c>tally meter --close-idle-after</c> uses it to measure what such a policy would save.
    /// </summary>
    public int? CloseIdleAfterMinutes { get; init; }

    /// <summary>Returns the first problem with these options, or null when they are usable.</summary>
    public string? Validate() =>
        UnitMinutes is < 1 or > 1440 ? "unit minutes must be between 1 and 1440"
        : SessionTimeoutMinutes is < 1 or > 10080 ? "session timeout must be between 1 and 10080 minutes"
        : CloseIdleAfterMinutes is < 1 or > 10080 ? "close-idle-after must be between 1 and 10080 minutes"
        : null;
}

/// <summary>A license's validity window, half-open: <c>[From, To)</c> as UTC ticks.</summary>
public readonly record struct ValidityWindow(long FromTicks, long ToTicks)
{
    public bool Contains(long ticks) => ticks >= FromTicks && ticks < ToTicks;
}
