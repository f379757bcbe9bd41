using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// The last activity (newest event time per user and per app, by period) of events already appended but not yet
/// recorded with it. The writer hands it to an append once per <see cref="TenantWriter.ActivityInterval"/>, so a user
/// active in every group of a busy tenant is one rollup row per interval instead of one per group. Lost in a crash, it is
/// taken again from the events the ledger holds after <see cref="IEventLedger.ActivityRecordedThrough"/>. Owned by the
/// writer loop, like the rest of <see cref="TenantState"/>.
/// </summary>
internal sealed class PendingActivity
{
    private readonly Dictionary<(string Period, string Name), long> _users = [];
    private readonly Dictionary<(string Period, string Name), long> _apps = [];

    public bool IsEmpty => _users.Count == 0;

    /// <summary>An event of <paramref name="user"/> on <paramref name="app"/> at <paramref name="ticks"/>, filed under <paramref name="period"/>.</summary>
    public void Mark(string period, string user, string app, long ticks)
    {
        ActivityMarks.Newest(_users, (period, user), ticks);
        ActivityMarks.Newest(_apps, (period, app), ticks);
    }

    /// <summary>What is pending, for an append; it stays pending until <see cref="Clear"/> (the append may fail).</summary>
    public ActivityMarks Marks() => ActivityMarks.From(_users, _apps);

    public void Clear()
    {
        _users.Clear();
        _apps.Clear();
    }
}
