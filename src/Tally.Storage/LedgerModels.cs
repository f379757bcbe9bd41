namespace Tally.Storage;

/// <summary>What an API key may do. <see cref="Bootstrap"/> manages tenants and belongs to no tenant.</summary>
public enum ApiRole : byte
{
    Ingest,
    Read,
    Admin,
    Bootstrap,
}

public static class ApiRoles
{
    public static string ToWire(this ApiRole role) => role switch
    {
        ApiRole.Ingest => "ingest",
        ApiRole.Read => "read",
        ApiRole.Admin => "admin",
        _ => "bootstrap",
    };

    public static bool TryParse(string? text, out ApiRole role)
    {
        (var ok, role) = text switch
        {
            "ingest" => (true, ApiRole.Ingest),
            "read" => (true, ApiRole.Read),
            "admin" => (true, ApiRole.Admin),
            "bootstrap" => (true, ApiRole.Bootstrap),
            _ => (false, ApiRole.Ingest),
        };
        return ok;
    }
}

public sealed record TenantRecord(string Id, string Name, DateTimeOffset Created);

/// <summary>
/// The right to commit the tenant's ledger, held by one writer at a time: <see cref="IEventLedger.ClaimTenant"/> hands
/// out a new <paramref name="Epoch"/> to each writer that starts, and a commit made with an older one is refused.
/// </summary>
public sealed record TenantClaim(string Tenant, string Owner, long Epoch);

/// <summary>
/// A commit was refused because the writer's claim is no longer the tenant's newest: another writer (another node, or a
/// later activation) claimed the tenant since, and nothing of the refused commit was written. <see cref="CurrentEpoch"/>
/// is 0 when the tenant has no claim at all.
/// </summary>
/// <paramref name="inner"/>: what the refused commit failed on first, when that was not the fence itself (the new owner
/// had committed an id the stale writer's group repeats).
public sealed class LedgerFencedException(string tenant, long heldEpoch, long currentEpoch, string? currentOwner, Exception? inner = null)
    : Exception($"Tenant {tenant}'s ledger is owned by epoch {currentEpoch}{(currentOwner is null ? "" : $" ({currentOwner})")}; " +
        $"this writer holds epoch {heldEpoch} and may no longer commit.", inner)
{
    public string Tenant { get; } = tenant;

    public long HeldEpoch { get; } = heldEpoch;

    public long CurrentEpoch { get; } = currentEpoch;
}

/// <summary>A stored API key: only the SHA-256 hash of the secret is kept.</summary>
public sealed record ApiKeyRecord(string Id, byte[] Hash, string? Tenant, ApiRole Role, DateTimeOffset Created, DateTimeOffset? Revoked);

/// <summary>The license key string a tenant installed (already verified by the caller).</summary>
public sealed record LicenseRecord(string Tenant, string Key, DateTimeOffset Installed);

/// <summary>A dashboard sign-in session a cluster's nodes share: <paramref name="Id"/> is the SHA-256 (hex) of the cookie's token.</summary>
public sealed record SessionRecord(string Id, string KeyId, DateTimeOffset Created, DateTimeOffset LastSeen);

/// <summary>One accepted event as the ledger keeps it: the server's stamp decides, the client's time is kept for reference.</summary>
public sealed record StoredEvent(
    long Seq, string? EventId, long TimeTicks, string? ClientTime, string User, string Device, string App, string Action);

/// <summary>One decision of an event (a scheduled reload may have several).</summary>
public sealed record StoredDecision(
    string Kind, string? Reason, string User, string App, string Period, long UnitStartTicks, long UnitEndTicks, long RetryAfterTicks, int Minutes);

/// <summary>
/// One granted unit, the row reports read. <paramref name="LicenseUsage"/> is <c>time</c> (pool) or <c>assigned</c>
/// (seat); <paramref name="Allotment"/> is <c>analyzer_time</c>, <c>professional</c> or <c>analyzer</c>.
/// <paramref name="EngagedTicks"/> is set only on a unit a scheduled reload started: the latest engagement of its user
/// on its meter key at or before the reload (0: none), what R14 judges it idle by; null on every other unit.
/// </summary>
public sealed record StoredUnit(
    long Id, string User, string Device, string App, string Period, long StartTicks, long EndTicks, int Minutes, string LicenseUsage, string Allotment,
    string? Session = null, long? EngagedTicks = null);

/// <summary>
/// An event to append, with its decisions and the units they granted. <paramref name="Period"/> is the period its
/// server time falls in on the tenant's calendar when it was applied, the one its decisions carry; the pages' last
/// activity is filed under it, so an event without decisions (a reload nobody is connected to) counts too.
/// </summary>
public sealed record LedgerEntry(
    string? EventId, long TimeTicks, string? ClientTime, string User, string Device, string App, string Action,
    IReadOnlyList<StoredDecision> Decisions, IReadOnlyList<StoredUnit> Units, string Period, StoredObservation? Observed = null)
{
    /// <summary>The action of an observed record's event: the meter never replays it (rule R13).</summary>
    public const string ObservedAction = "observed";
}

/// <summary>
/// An observed record (rule R13) as its source reported it, appended with the entry that carries its units: the
/// entry's user, app, time (the record's end) and device (its session) are the rest of it. The ledger keeps one per
/// (tenant, source, record id); an append that repeats one fails whole, as a repeated event id does.
/// </summary>
public sealed record StoredObservation(string Source, string RecordId, long DurationTicks, long Minutes, long Units, string LicenseUsage, string? Allotment);

/// <summary>An observed record as the ledger holds it, to tell a record seen again from a changed one.</summary>
public sealed record ObservedRecordRow(
    string RecordId, string User, string App, string Session, long EndTicks, long DurationTicks, long Minutes, long Units, string LicenseUsage, string? Allotment);

/// <summary>
/// The pages' last activity for some appended events: the newest event time per (period, user) and per (period, app),
/// filed under each event's <see cref="LedgerEntry.Period"/>. A writer gathers them over several appends and hands
/// them to a later one (<see cref="IEventLedger.Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/>), so a
/// user active in every group is written once every few seconds rather than once a group.
/// </summary>
public sealed record ActivityMarks(IReadOnlyList<ActivityMark> Users, IReadOnlyList<ActivityMark> Apps)
{
    public static ActivityMarks Empty { get; } = new([], []);

    /// <summary>The marks of <paramref name="entries"/> alone.</summary>
    public static ActivityMarks Of(IEnumerable<LedgerEntry> entries)
    {
        var users = new Dictionary<(string, string), long>();
        var apps = new Dictionary<(string, string), long>();
        foreach (var e in entries)
        {
            Newest(users, (e.Period, e.User), e.TimeTicks);
            Newest(apps, (e.Period, e.App), e.TimeTicks);
        }
        return From(users, apps);
    }

    /// <summary>Keeps the later of the stored and the given time for <paramref name="key"/>.</summary>
    public static void Newest(Dictionary<(string Period, string Name), long> marks, (string Period, string Name) key, long ticks)
    {
        ref var newest = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(marks, key, out _);
        newest = Math.Max(newest, ticks);
    }

    /// <summary>Marks from per-(period, user) and per-(period, app) newest times.</summary>
    public static ActivityMarks From(IReadOnlyDictionary<(string Period, string Name), long> users, IReadOnlyDictionary<(string Period, string Name), long> apps) =>
        new([.. users.Select(kv => new ActivityMark(kv.Key.Period, kv.Key.Name, kv.Value))],
            [.. apps.Select(kv => new ActivityMark(kv.Key.Period, kv.Key.Name, kv.Value))]);
}

/// <summary>The newest event time of one user or app in one period.</summary>
public readonly record struct ActivityMark(string Period, string Name, long Ticks);

/// <summary>Totals of one period from the ledger.</summary>
public sealed record PeriodUsage(string Period, long Units, long Minutes, long DeniedEvents, long Events);

public sealed record UserUsage(string User, long Units, long Minutes, long DeniedEvents);

/// <summary>
/// A position in the unit records' order (end instant, then id): unique per record, so a page that starts after a
/// position never repeats or skips a record that existed when the position was taken, whatever arrives meanwhile.
/// </summary>
public readonly record struct UnitPosition(long EndTicks, long Id);

/// <summary>A page of unit records in the query's order; <paramref name="HasMore"/> says whether records follow it.</summary>
public sealed record UnitPage(IReadOnlyList<StoredUnit> Units, bool HasMore);

/// <summary>
/// Unit records ordered by (end instant, id), ascending or <paramref name="Descending"/>, starting strictly after
/// <paramref name="After"/> in that order, with half-open or closed bounds on the unit's end instant.
/// </summary>
public sealed record UnitQuery(int Limit, bool Descending = false, UnitPosition? After = null,
    long? EndFromTicks = null, bool EndFromInclusive = true, long? EndToTicks = null, bool EndToInclusive = false);

/// <summary>
/// A change of a tenant's terms at a position in its event stream: after the first <paramref name="AfterEvents"/>
/// recorded events, the license key and plan below govern (null: none).
/// </summary>
public sealed record TermsChange(long AfterEvents, string? LicenseKey, string? PlanJson, DateTimeOffset At);

/// <summary>Pool minutes (units with <c>licenseUsage = time</c>) whose unit started in the UTC hour at <paramref name="HourStartTicks"/>.</summary>
public readonly record struct HourlyMinutes(long HourStartTicks, long Minutes);

/// <summary>
/// One user's activity in one UTC hour: units (all allocations) and their minutes by unit start, and denied decisions
/// by the event's server time. An hour appears only when one of the three is non-zero.
/// </summary>
public sealed record UserHourUsage(long HourStartTicks, string User, long Units, long Minutes, long DeniedEvents);

/// <summary>
/// One user's totals in a period: units and minutes of the period's units, denied decisions of the period, distinct
/// apps of the units, the last event time inside <c>[from, to)</c>, and the allotment of the user's latest unit
/// (<c>analyzer_time</c>, <c>analyzer</c>, <c>professional</c>; null without units).
/// </summary>
public sealed record UserActivity(string User, long Units, long Minutes, long DeniedEvents, long Apps, long? LastActivityTicks, string? Allotment);

/// <summary>How many of a user's decisions in a period were denied for <paramref name="Reason"/> (the ledger's word: <c>user-cap-reached</c>, <c>pool-exhausted</c>…).</summary>
public sealed record UserDenials(string User, string Reason, long Count);

/// <summary>One app's totals in a period: units and minutes, distinct users with units, last event time inside <c>[from, to)</c>.</summary>
public sealed record AppActivity(string App, long Units, long Minutes, long Users, long? LastActivityTicks);

/// <summary>Units a scheduled reload started and their minutes, and the idle-reload ones among them (R14).</summary>
public readonly record struct ReloadUnitFigures(long ReloadUnits, long ReloadMinutes, long IdleUnits, long IdleMinutes)
{
    public static ReloadUnitFigures operator +(ReloadUnitFigures a, ReloadUnitFigures b) =>
        new(a.ReloadUnits + b.ReloadUnits, a.ReloadMinutes + b.ReloadMinutes, a.IdleUnits + b.IdleUnits, a.IdleMinutes + b.IdleMinutes);
}

/// <summary>One user's reload-started units in a period.</summary>
public sealed record ReloadWasteUser(string User, ReloadUnitFigures Figures);

/// <summary>One reloaded app's units in a period, and how many distinct users its idle-reload units charged.</summary>
public sealed record ReloadWasteApp(string App, ReloadUnitFigures Figures, long IdleUsers);

/// <summary>The reload-started units that started in the UTC hour at <paramref name="HourStartTicks"/>.</summary>
public sealed record ReloadWasteHour(long HourStartTicks, ReloadUnitFigures Figures);

/// <summary>
/// A period's reload-started units (R14) for one quiet time: the total, and every user, app and UTC hour with one
/// (users and apps by name, ordinal; hours in order). Rows without an idle unit are included: the caller filters.
/// </summary>
public sealed record StoredReloadWaste(ReloadUnitFigures Total, IReadOnlyList<ReloadWasteUser> Users, IReadOnlyList<ReloadWasteApp> Apps,
    IReadOnlyList<ReloadWasteHour> Hours);

/// <summary>
/// Where alerts go. <paramref name="Kind"/> is <c>email</c> (<paramref name="Target"/>: comma-separated addresses) or
/// <c>webhook</c> (<paramref name="Target"/>: an http(s) URL; <paramref name="Secret"/>: the HMAC-SHA256 signing key,
/// kept in clear because signing needs it, and never returned in full by the API).
/// </summary>
public sealed record AlertChannelRecord(string Id, string Tenant, string Kind, string Name, string Target, string? Secret, DateTimeOffset Created);

/// <summary>
/// A tenant's alert rule. <paramref name="Kind"/> is one of <c>threshold-percent</c>, <c>threshold-minutes</c>,
/// <c>above-run-rate</c>, <c>forecast-run-out</c>, <c>overage-started</c>, <c>lockout</c>, <c>user-minutes</c>;
/// <paramref name="Value"/> is its number (percent, minutes or margin percent; null for kinds without one);
/// <paramref name="Bound"/>, for <c>forecast-run-out</c> only, which run-out fires it: null or <c>expected</c> (the
/// point forecast), or <c>pessimistic</c> (the 10th percentile instant, the band's earliest).
/// </summary>
public sealed record AlertRuleRecord(string Id, string Tenant, string Name, string Kind, double? Value, IReadOnlyList<string> ChannelIds, DateTimeOffset Created,
    string? Bound = null);

/// <summary>
/// A tenant's working calendar as chosen (issue 16): <paramref name="Holidays"/> is <c>auto</c> (the public holidays of
/// the license zone's country), <c>none</c>, or an ISO 3166-1 alpha-2 code; <paramref name="ClosedDays"/> the tenant's
/// own closure days, sorted, without repeats. Validated by the server before it is stored.
/// </summary>
public sealed record WorkCalendarSetting(string Holidays, IReadOnlyList<DateOnly> ClosedDays)
{
    public const string Auto = "auto";
    public const string NoHolidays = "none";

    /// <summary>What a tenant that never chose has: its zone's holidays, no closure days.</summary>
    public static WorkCalendarSetting Default { get; } = new(Auto, []);
}

/// <summary>The durable "this rule fired" mark: unique per (tenant, rule, period, subject); subject is "" for tenant-wide rules, else the user.</summary>
public sealed record AlertClaim(string Tenant, string RuleId, string Period, string Subject, DateTimeOffset FiredAt);

/// <summary>
/// One alert as sent (or attempted) on one channel. <paramref name="Status"/> is <c>sent</c>, <c>failed</c>,
/// <c>dropped</c> (the tenant's delivery queue was full) or <c>no-channel</c> (the rule fired but had no usable
/// channel). <paramref name="Id"/> is assigned by the store.
/// </summary>
public sealed record AlertHistoryRecord(
    long Id, string Tenant, string RuleId, string RuleKind, string Period, string Subject, DateTimeOffset FiredAt,
    string? ChannelId, string? ChannelKind, string Status, string Message, string? Detail);

/// <summary>What the users page can order by in the database. The cap and the allocation's wire name are the server's, so it sorts by those itself.</summary>
public enum UserSort { Minutes, Units, Apps, LastActivity, Denied, User }

/// <summary>What the apps page can order by.</summary>
public enum AppSort { Units, Minutes, Users, LastActivity, App }

/// <summary>
/// One page of a period's users or apps: the rows whose name contains <paramref name="Search"/> (case-insensitive,
/// taken literally: <c>%</c> and <c>_</c> are characters), ordered by the sort key ascending or <paramref name="Descending"/>
/// with ties always by name ascending (ordinal), <paramref name="Offset"/> rows skipped, at most <paramref name="Limit"/>.
/// Last activity is the newest event filed under <paramref name="Period"/> (<see cref="LedgerEntry.Period"/>): the
/// newest inside the period's bounds on the calendar the events were applied with.
/// </summary>
public sealed record PageQuery<TSort>(string Period, TSort Sort, bool Descending, string? Search, int Limit, int Offset)
    where TSort : struct, Enum;

/// <summary>A page of rows and how many rows match the query's search in all (the page is a window on them).</summary>
public sealed record ReportPage<T>(long Total, IReadOnlyList<T> Rows);

/// <summary>
/// A source of observed usage for a tenant (rule R13): <paramref name="Kind"/> <c>qlik-cloud</c> or <c>qseow</c>, its
/// address, its settings as JSON (nothing secret), its secret encrypted by the server (an API key, a certificate and
/// its password; null: none), how often it is pulled and whether it is pulled at all (a refused credential stops it).
/// </summary>
public sealed record SourceRecord(
    string Tenant, string Id, string Kind, string Url, string SettingsJson, byte[]? Secret, int IntervalSeconds, DateTimeOffset Created, bool Enabled);

/// <summary>
/// How a source's pulls went: how far it has read (<paramref name="WatermarkTicks"/>, the newest end time taken in), the
/// last attempt and success, the last failure's kind and message (null after a success), the records added,
/// repeated and seen changed since it was added, the source's license as last read (JSON), and how many records the
/// last pull set aside as unusable (<paramref name="Rejected"/>), with the first one's position and reason.
/// </summary>
public sealed record SourceStatus(
    long WatermarkTicks, DateTimeOffset? LastAttempt, DateTimeOffset? LastSuccess, string? Failure, string? LastError, long Records, long Repeats,
    long Conflicts, string? LicenseJson, long Rejected = 0, string? Rejection = null);

/// <summary>
/// One pull's outcome, added to the source's status. <paramref name="Stop"/>: the source is disabled (a refused
/// credential). <paramref name="SeatsJson"/>: the seats the source has assigned, as read by this pull (null: not read).
/// <paramref name="Rejected"/>: the records this pull set aside as unusable, <paramref name="Rejection"/> the first's position and reason.
/// </summary>
public sealed record SourcePull(
    DateTimeOffset At, bool Succeeded, string? Failure, string? Error, long WatermarkTicks, long Added, long Repeated, long Conflicts, string? LicenseJson, bool Stop,
    string? SeatsJson = null, long Rejected = 0, string? Rejection = null);

/// <summary>What <see cref="ISourceCatalog.AddSource"/> did.</summary>
public enum SourceAdded
{
    Added,
    /// <summary>The tenant has a source with that id.</summary>
    Exists,
    /// <summary>The tenant has as many sources as the limit allows.</summary>
    Full,
}

/// <summary>
/// A client's offline report (issue 18) as the ledger keeps it: validated by the server, <paramref name="Period"/> the
/// tenant's month holding <paramref name="From"/>. <paramref name="Grants"/> in the client's order.
/// </summary>
public sealed record OfflineReportRecord(
    string Tenant, string Id, string Client, string Policy, int GraceBudgetMinutes, DateTimeOffset From, DateTimeOffset To, DateTimeOffset Received,
    string Period, int DeniedChecks, long DroppedEvents, IReadOnlyList<OfflineGrantRecord> Grants)
{
    /// <summary>The grace minutes the report's grants took together.</summary>
    public int GraceMinutes => Grants.Sum(g => g.Minutes);
}

/// <summary>One access check a client allowed offline: the id of the event it buffered, and the grace minutes it took.</summary>
public sealed record OfflineGrantRecord(string EventId, string User, string? Device, string App, string Action, DateTimeOffset Time, int Minutes);

/// <summary>What <see cref="IOfflineReports.AddOfflineReport"/> did: stored the report, or found it stored already (figures as stored then).</summary>
public sealed record OfflineReportAdded(bool Duplicate, int Grants, int GraceMinutes);

/// <summary>A stored report read back: its grants each with the server's own decision on the same event id, if it has one.</summary>
public sealed record StoredOfflineReport(OfflineReportRecord Report, IReadOnlyList<StoredOfflineGrant> Grants);

/// <summary>
/// A grant with the decision the server recorded for the event of the same id in the same tenant: null when that event
/// has not arrived (or never will). <paramref name="ServerReason"/> is set only on a denial.
/// </summary>
public sealed record StoredOfflineGrant(OfflineGrantRecord Grant, string? ServerDecision, string? ServerReason);
