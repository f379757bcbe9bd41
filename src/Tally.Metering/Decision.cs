namespace Tally.Metering;

/// <summary>The outcome of one event for one meter key (R11).</summary>
public enum DecisionKind : byte
{
    /// <summary>A new unit started and was charged.</summary>
    Charged,
    /// <summary>Inside a running unit: no charge.</summary>
    Covered,
    /// <summary>Presence, closing, or a named user's 0-minute record.</summary>
    Free,
    /// <summary>The event id was already accepted: nothing changed.</summary>
    Duplicate,
    /// <summary>Refused; <see cref="Decision.Reason"/> says why. Still recorded.</summary>
    Denied,
}

/// <summary>Why an event was denied (R11). <see cref="None"/> for every other decision.</summary>
public enum DenyReason : byte
{
    None,
    PoolExhausted,
    UserCapReached,
    NotPermitted,
    NotLicensed,
    LicenseExpired,
}

public static class DecisionNames
{
    public static string ToWire(this DecisionKind kind) => kind switch
    {
        DecisionKind.Charged => "charged",
        DecisionKind.Covered => "covered",
        DecisionKind.Free => "free",
        DecisionKind.Duplicate => "duplicate",
        _ => "denied",
    };

    public static string? ToWire(this DenyReason reason) => reason switch
    {
        DenyReason.None => null,
        DenyReason.PoolExhausted => "pool-exhausted",
        DenyReason.UserCapReached => "user-cap-reached",
        DenyReason.NotPermitted => "not-permitted",
        DenyReason.NotLicensed => "not-licensed",
        _ => "license-expired",
    };
}

/// <summary>
/// One decision. A user event yields exactly one; a scheduled reload yields one per meter key it touches (R5).
/// Instants are UTC ticks so that the hot path copies plain longs; zero means "none".
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Reason">Why, when <see cref="DecisionKind.Denied"/>.</param>
/// <param name="Action">The event's action (for a reload, <see cref="MeterAction.ScheduledReload"/>).</param>
/// <param name="User">Interned user (0 for a reload that touched nobody).</param>
/// <param name="App">Interned app, 0 when the event names none.</param>
/// <param name="Key">The meter key the decision applies to; <see cref="MeterKey.None"/> for free and restricted events.</param>
/// <param name="Period">The period of the event's instant.</param>
/// <param name="UnitStartTicks">Start of the unit that charged or covered the event.</param>
/// <param name="UnitEndTicks">End (exclusive) of that unit.</param>
/// <param name="RetryAfterTicks">When denied <c>pool-exhausted</c>: the instant access returns (next period's start).</param>
/// <param name="Minutes">Pool minutes this decision charged (U for a capacity unit, else 0).</param>
public readonly record struct Decision(
    DecisionKind Kind,
    DenyReason Reason,
    MeterAction Action,
    int User,
    int App,
    MeterKey Key,
    Period Period,
    long UnitStartTicks,
    long UnitEndTicks,
    long RetryAfterTicks,
    int Minutes)
{
    public bool Allowed => Kind != DecisionKind.Denied;

    /// <summary>
    /// Whether this decision opened a unit: a charged capacity unit, or a named user's 0-minute record (R9, R11), the
    /// only free decision that carries a unit. The ledger's unit rows and every tally of units follow this one rule.
    /// </summary>
    public bool StartsUnit => Kind == DecisionKind.Charged || (Kind == DecisionKind.Free && UnitStartTicks != 0);

    public DateTimeOffset? UnitStart => UnitStartTicks == 0 ? null : new DateTimeOffset(UnitStartTicks, TimeSpan.Zero);

    public DateTimeOffset? UnitEnd => UnitEndTicks == 0 ? null : new DateTimeOffset(UnitEndTicks, TimeSpan.Zero);

    public DateTimeOffset? RetryAfter => RetryAfterTicks == 0 ? null : new DateTimeOffset(RetryAfterTicks, TimeSpan.Zero);
}
