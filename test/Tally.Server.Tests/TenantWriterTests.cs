using System.Reflection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>
/// The writer's group commit when the ledger refuses a group: one request that cannot be stored fails alone, and a
/// ledger that takes no write at all fails the group without a replay per request. A real SQLite ledger behind a proxy
/// that holds the first append until the test has queued a group, and refuses what the test names.
/// </summary>
public sealed class TenantWriterTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-writer-").FullName;
    private readonly SqliteLedgerStore _ledger;
    // One writer thread: while a commit is held at the gate it holds the thread, so what the test queues meanwhile is
    // drained as one group by the next pass. With two, that pass could start (and take the first request alone) while
    // the test is still queueing.
    private readonly WriterThreads _threads = new(1);

    public TenantWriterTests()
    {
        _ledger = new SqliteLedgerStore(Path.Combine(_dir, "tally.db"));
        _ledger.Initialize();
        _ledger.CreateTenant(new TenantRecord("acme", "Acme", T0));
    }

    public void Dispose()
    {
        _threads.Dispose();
        _ledger.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static IncomingEvent Open(string id, string user) => new(id, user, "", "sales", MeterAction.OpenApp, null);

    private TenantWriter Writer(ILedgerStore store) => Writer(store, new FakeTimeProvider(T0));

    [Fact]
    public async Task Commit_OneRequestOfAGroupCannotBeStored_OnlyThatRequestFails()
    {
        var store = GatedStore.Over(_ledger, refuse: entries => entries.Any(e => e.EventId == "poison"));
        await using var writer = Writer(store.Store);
        var warm = writer.SubmitAsync([Open("warm", "ann")]);
        await store.FirstAppendStarted;
        // Queued while the writer is inside the first commit, so the three are drained into one group.
        var a = writer.SubmitAsync([Open("a1", "bob"), Open("a2", "cy")]);
        var poisoned = writer.SubmitAsync([Open("p1", "dan"), Open("poison", "eve")]);
        var b = writer.SubmitAsync([Open("b1", "fay")]);
        store.Release();

        await warm;
        Assert.Equal([DecisionKind.Charged, DecisionKind.Charged], (await a).Select(o => o.Decisions[0].Kind));
        Assert.Equal(DecisionKind.Charged, (await b)[0].Decisions[0].Kind);
        await Assert.ThrowsAsync<LedgerUnavailableException>(() => poisoned);
        // Tried together once (5 events), then each request alone: 2 stored, 2 refused, 1 stored.
        Assert.Equal([1, 5, 2, 2, 1], store.Appends);

        // The ledger holds exactly the requests that succeeded, and the meter agrees with it.
        Assert.Equal(4, _ledger.EventCount("acme"));
        Assert.Empty(_ledger.KnownEventIds("acme", ["p1"]));
        var again = await writer.SubmitAsync([Open("a1", "bob"), Open("p1", "dan"), Open("b1", "fay")]);
        Assert.Equal([DecisionKind.Duplicate, DecisionKind.Charged, DecisionKind.Duplicate], again.Select(o => o.Decisions[0].Kind));
    }

    [Fact]
    public async Task Import_OneGroupLongerThanTheIdWindow_AnIdRepeatedAfterTheMeterForgotItIsStillADuplicate()
    {
        // Window 10 minutes; "b" three hours later makes the meter forget "a" in the middle of this very group. The
        // group's ids are settled before any is applied (ledger, then the group itself), so the repeat of "a" is found
        // and the ledger's unique index is never asked to take "a" twice.
        long[] ticks = [T0.UtcTicks, T0.AddHours(3).UtcTicks, T0.AddHours(3).UtcTicks];
        await using (var writer = new TenantWriter("acme", _ledger, new FakeTimeProvider(T0.AddHours(4)),
            (key, plan) => TenantConfig.FromStored(key, plan, null), maxGroupEvents: 5000, _threads, idMemory: TimeSpan.FromMinutes(10)))
        {
            var imported = await writer.ImportAsync([Open("a", "ann"), Open("b", "bob"), Open("a", "ann")], ticks);
            Assert.Equal([DecisionKind.Charged, DecisionKind.Charged, DecisionKind.Duplicate], imported.Select(o => o.Decisions[0].Kind));
        }
        Assert.Equal(2, _ledger.EventCount("acme"));
    }

    [Fact]
    public async Task Commit_LedgerTakesNoWriteAtAll_GroupFailsWithoutAReplayPerRequest()
    {
        var store = GatedStore.Over(_ledger, refuse: _ => true, writable: false);
        await using var writer = Writer(store.Store);
        var replaysAtStart = store.Replays;
        var first = writer.SubmitAsync([Open("e0", "ann")]);
        await store.FirstAppendStarted;
        var group = Enumerable.Range(1, 20).Select(i => writer.SubmitAsync([Open($"e{i}", $"u{i}")])).ToList();
        store.Release();

        await Assert.ThrowsAsync<LedgerUnavailableException>(() => first);
        foreach (var request in group)
        {
            await Assert.ThrowsAsync<LedgerUnavailableException>(() => request);
        }
        // The group tried together, then alone until the ledger was found unwritable: not twenty replays of its history.
        Assert.Equal([1, 20, 1], store.Appends);
        Assert.InRange(store.Replays - replaysAtStart, 1, 3);
        Assert.Equal(0, _ledger.EventCount("acme"));
    }

    [Fact]
    public async Task LastActivity_OfABusyTenant_GoesWithAGroupOnceASecond_AndWithTheTimerWhenTheTenantGoesQuiet()
    {
        var time = new FakeTimeProvider(T0);
        await using var writer = Writer(_ledger, time);
        await writer.SubmitAsync([Open("1", "ann")]);
        Assert.Equal(T0.UtcTicks, await LastActivity("ann"));
        Assert.Equal(_ledger.Events("acme").Last().Seq, _ledger.ActivityRecordedThrough("acme"));

        // Within the interval: the unit counts at once, the last activity waits.
        time.Advance(TimeSpan.FromMilliseconds(100));
        await writer.SubmitAsync([Open("2", "bob")]);
        Assert.Null(await LastActivity("bob"));
        Assert.Equal(_ledger.Events("acme").First().Seq, _ledger.ActivityRecordedThrough("acme"));

        // Nothing more comes: the timer records it when the interval is up.
        time.Advance(TenantWriter.ActivityInterval - TimeSpan.FromMilliseconds(100));
        Assert.Equal(T0.UtcTicks + 100 * TimeSpan.TicksPerMillisecond, await LastActivityOnceRecorded("bob"));
        Assert.Equal(_ledger.Events("acme").Last().Seq, _ledger.ActivityRecordedThrough("acme"));
    }

    [Fact]
    public async Task LastActivity_StillInMemoryWhenTheWriterDies_IsTakenAgainFromTheLedgerByTheNextWriter()
    {
        // The first writer is never stopped and its clock never moves: what it kept is lost, as in a kill -9.
        var dying = Writer(_ledger, new FakeTimeProvider(T0));
        await dying.SubmitAsync([Open("1", "ann")]);
        await dying.SubmitAsync([Open("2", "bob"), Open("3", "ann")]);
        Assert.Null(await LastActivity("bob"));

        var time = new FakeTimeProvider(T0.AddMinutes(1));
        await using var next = Writer(_ledger, time);
        time.Advance(TenantWriter.ActivityInterval);
        Assert.Equal(T0.UtcTicks, await LastActivityOnceRecorded("bob"));
        Assert.Equal(T0.UtcTicks, await LastActivity("ann"));
        Assert.Equal(_ledger.Events("acme").Last().Seq, _ledger.ActivityRecordedThrough("acme"));
    }

    [Fact]
    public async Task Commit_AfterASecondWriterClaimedTheTenant_IsFencedForGood_AndOnlyTheNewOwnerCommits()
    {
        var store = GatedStore.Over(_ledger, refuse: _ => false);
        store.Release();
        var told = 0;
        await using var first = new TenantWriter("acme", store.Store, new FakeTimeProvider(T0), (key, plan) => TenantConfig.FromStored(key, plan, null),
            maxGroupEvents: 5000, _threads, owner: "node-a") { OnFenced = _ => Interlocked.Increment(ref told) };
        var replaysAtStart = store.Replays;
        await using var second = Writer(_ledger, new FakeTimeProvider(T0.AddMinutes(1)), "node-b");
        Assert.Equal((1L, 2L), (first.Claim.Epoch, second.Claim.Epoch));

        await second.SubmitAsync([Open("b1", "bob"), Open("b2", "cy")]);
        // Requests queued together, one of them repeating an id the new owner committed: the first append is refused
        // by the fence, and no request is then retried alone.
        var group = new[] { first.SubmitAsync([Open("a1", "ann")]), first.SubmitAsync([Open("a2", "dan")]), first.SubmitAsync([Open("b1", "bob")]) };
        foreach (var request in group)
        {
            var refused = await Assert.ThrowsAsync<LedgerUnavailableException>(() => request);
            Assert.Contains("moved to another owner", refused.Message);
            var fence = Assert.IsType<LedgerFencedException>(refused.InnerException);
            Assert.Equal((1L, 2L), (fence.HeldEpoch, fence.CurrentEpoch));
        }
        // Fenced for good: later work fails too, without another append or a replay.
        var later = await Assert.ThrowsAsync<LedgerUnavailableException>(() => first.SubmitAsync([Open("a3", "eve")]));
        Assert.IsType<LedgerFencedException>(later.InnerException);
        await Assert.ThrowsAsync<LedgerUnavailableException>(first.ReconfigureAsync);
        Assert.Single(store.Appends);
        Assert.Equal(replaysAtStart, store.Replays);
        Assert.True(first.Fenced);
        Assert.False(second.Fenced);
        Assert.Equal(1, told);

        Assert.Equal(["b1", "b2"], _ledger.Events("acme").Select(e => e.EventId));
        await using var third = Writer(_ledger, new FakeTimeProvider(T0.AddMinutes(2)), "node-c");
        Assert.Equal(2, third.Snapshot.EventsRecorded);
        var replayed = await third.SubmitAsync([Open("b1", "bob"), Open("b2", "cy"), Open("a1", "ann")]);
        Assert.Equal([DecisionKind.Duplicate, DecisionKind.Duplicate, DecisionKind.Charged], replayed.Select(o => o.Decisions[0].Kind));
    }

    private TenantWriter Writer(ILedgerStore store, TimeProvider time, string? owner = null) =>
        new("acme", store, time, (key, plan) => TenantConfig.FromStored(key, plan, null), maxGroupEvents: 5000, _threads, owner: owner);

    /// <summary>Work queued by a timer runs on a writer thread a moment after the clock moved: waits for the row.</summary>
    private Task<long?> LastActivityOnceRecorded(string user) =>
        Eventually.Until(() => LastActivity(user), ticks => ticks is not null, $"{user}'s last activity to be recorded");

    /// <summary>The user's last activity on the March page, as the users page reads it.</summary>
    private async Task<long?> LastActivity(string user) =>
        (await _ledger.UsersPageAsync("acme", new PageQuery<UserSort>("2026-03", UserSort.User, false, user, 10, 0), CancellationToken.None))
            .Rows.SingleOrDefault(r => r.User == user)?.LastActivityTicks;

    /// <summary>
    /// Forwards to a real store; its first <see cref="IEventLedger.Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/> waits for <see cref="Release"/>, and appends
    /// <c>refuse</c> names throw as a store that cannot keep them would. Counts appends (their sizes) and replays.
    /// </summary>
    public class GatedStore : DispatchProxy
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _gate = new();
        private readonly List<int> _appends = [];
        private ILedgerStore _inner = null!;
        private Func<IReadOnlyList<LedgerEntry>, bool> _refuse = null!;
        private bool _writable;
        private int _replays;

        public static GatedStore Over(ILedgerStore inner, Func<IReadOnlyList<LedgerEntry>, bool> refuse, bool writable = true)
        {
            var proxy = Create<ILedgerStore, GatedStore>();
            var gated = (GatedStore)(object)proxy;
            (gated._inner, gated._refuse, gated._writable) = (inner, refuse, writable);
            return gated;
        }

        /// <summary>This proxy as the store the writer is given.</summary>
        public ILedgerStore Store => (ILedgerStore)(object)this;

        public Task FirstAppendStarted => _started.Task;

        public IReadOnlyList<int> Appends
        {
            get
            {
                lock (_appends)
                {
                    return [.. _appends];
                }
            }
        }

        public int Replays => Volatile.Read(ref _replays);

        public void Release() => _gate.Set();

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            switch (method!.Name)
            {
                case nameof(ILedgerStore.Append):
                    var entries = (IReadOnlyList<LedgerEntry>)args![1]!;
                    bool first;
                    lock (_appends)
                    {
                        _appends.Add(entries.Count);
                        first = _appends.Count == 1;
                    }
                    if (first)
                    {
                        _started.TrySetResult();
                        _gate.Wait();
                    }
                    if (_refuse(entries))
                    {
                        throw new InvalidOperationException("this store cannot keep that");
                    }
                    break;
                case nameof(ILedgerStore.Events):
                    Interlocked.Increment(ref _replays);
                    break;
                case nameof(ILedgerStore.CheckWritable) when !_writable:
                    return "the disk is full";
            }
            try
            {
                return method.Invoke(_inner, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
        }
    }
}
