using Tally.Contract;

namespace Tally.Client;

/// <summary>
/// The offline policy's decisions, given the time. Fail closed denies. Fail open counts local units as the rule book
/// does (R3: an engagement starts a unit of <c>UnitMinutes</c> on its key unless one is running) against the grace budget,
/// keyed by (user, device, app): the finer of the two counting modes, so the budget is never spent slower than the server
/// would spend the pool. Restricted actions (R4) are denied offline: only Tally knows who holds a Professional seat.
/// </summary>
internal sealed class OfflineAccess
{
    private readonly OfflineAccessPolicy _policy;
    private readonly int _budget;
    private readonly int _unitMinutes;
    private readonly TimeSpan _retryAfter;
    private readonly Dictionary<(string?, string?, string?), long> _unitEnds = [];
    private readonly object _gate = new();
    private int _used;

    public OfflineAccess(OfflineAccessPolicy policy, int budgetMinutes, int unitMinutes, TimeSpan retryAfter, IEnumerable<OfflineGrant> unreported)
    {
        _policy = policy;
        _budget = budgetMinutes;
        _unitMinutes = unitMinutes;
        _retryAfter = retryAfter;
        Reload(unreported);
    }

    public int GraceUsed { get { lock (_gate) { return _used; } } }

    /// <summary>
    /// Starts again from the grants not yet reported: they hold their budget and their units, across restarts; once Tally
    /// has a report, its grants no longer count.
    /// </summary>
    public void Reload(IEnumerable<OfflineGrant> unreported)
    {
        lock (_gate)
        {
            _used = 0;
            _unitEnds.Clear();
            foreach (var g in unreported.Where(g => g.Minutes > 0 && g.Time is not null))
            {
                _used += g.Minutes!.Value;
                _unitEnds[(g.User, g.Device, g.App)] = g.Time!.Value.UtcTicks + TimeSpan.FromMinutes(g.Minutes.Value).Ticks;
            }
        }
    }

    /// <summary>The decision on <paramref name="e"/> at <paramref name="now"/>, and the grace minutes it takes (null when denied).</summary>
    public (AccessDecision Decision, int? GraceMinutes) Decide(EventDto e, DateTimeOffset now)
    {
        lock (_gate)
        {
            return DecideLocked(e, now);
        }
    }

    private (AccessDecision Decision, int? GraceMinutes) DecideLocked(EventDto e, DateTimeOffset now)
    {
        if (_policy == OfflineAccessPolicy.FailClosed)
        {
            return (Denied(e, "offline", now), null);
        }
        if (TallyActions.IsRestricted(e.Action ?? ""))
        {
            return (Denied(e, "offline-restricted", now), null);
        }
        if (TallyActions.IsFree(e.Action ?? ""))
        {
            return (Allowed(e, "free"), 0);
        }
        var key = (e.User, e.Device, e.App);
        if (_unitEnds.TryGetValue(key, out var end) && now.UtcTicks < end)
        {
            return (Allowed(e, "covered"), 0);
        }
        if (_used + _unitMinutes > _budget)
        {
            return (Denied(e, "offline-grace-exhausted", now), null);
        }
        _used += _unitMinutes;
        _unitEnds[key] = now.UtcTicks + TimeSpan.FromMinutes(_unitMinutes).Ticks;
        return (Allowed(e, "charged"), _unitMinutes);
    }

    private static AccessDecision Allowed(EventDto e, string decision) => new(true, e.Id!, decision, null, null, true, null);

    private AccessDecision Denied(EventDto e, string reason, DateTimeOffset now) => new(false, e.Id!, "denied", reason, now + _retryAfter, true, null);
}
