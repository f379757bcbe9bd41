using CsCheck;

namespace Tally.Metering.Tests;

/// <summary>
/// R14: idle-reload units, counted by hand on small timelines (minutes after <see cref="Scenario.Day"/>, 09:00 UTC), and
/// the what-if policy that closes idle connections. Q is the quiet time, 30 minutes unless a test says otherwise.
/// </summary>
public class IdleReloadTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMinutes(IdleReload.DefaultQuietMinutes);

    private static (Scenario Scenario, ReloadWasteTally Waste) Start(MeterOptions? options = null, TimeSpan? quiet = null)
    {
        var scenario = new Scenario(options);
        var waste = new ReloadWasteTally(scenario.Meter, quiet ?? Quiet, TimeZoneInfo.Utc);
        scenario.Sinks.Add(waste);
        return (scenario, waste);
    }


    private static ReloadWaste Waste(ReloadWasteTally tally) => Assert.Single(tally.Periods());

    /// <summary>Decisions of the scheduled reloads, in order.</summary>
    private static List<Decision> Reloads(Scenario s) =>
        [.. s.Decisions.Where(d => d.Event.Action == MeterAction.ScheduledReload).Select(d => d.Decision)];

    [Fact]
    public void IdleUser_ChargedByThreeHourlyReloads_ThreeIdleReloadUnits()
    {
        var (s, tally) = Start();
        new Timeline(s)
            .Add(0, "ann", "pc", "sales", "open-app")             // 09:00 engages: unit 09:00–09:06
            .Heartbeats("ann", "pc", 10, 180)                      // the tab stays open, ann does nothing
            .Reload(60, "sales").Reload(120, "sales").Reload(180, "sales") // 10:00, 11:00, 12:00
            .Run();
        Assert.All(Reloads(s), d => Assert.Equal(DecisionKind.Charged, d.Kind));
        var waste = Waste(tally);
        Assert.Equal(new ReloadFigures(3, 18, 3, 18), waste.Total);
        Assert.Equal(new ReloadFigures(3, 18, 3, 18), waste.Users[s.UserId("ann")]);
        Assert.Equal(new ReloadFigures(3, 18, 3, 18), waste.Apps[s.AppId("sales")]);
        Assert.Equal(1, waste.IdleUsersByApp[s.AppId("sales")]);
        Assert.Equal([10, 11, 12], Enumerable.Range(0, 24).Where(h => waste.Hours[h].IdleUnits == 1));
        Assert.Equal(3, waste.Hours.Sum(h => h.IdleUnits));
    }

    [Fact]
    public void ActiveUser_IsNeverCountedIdle()
    {
        var (s, tally) = Start();
        var timeline = new Timeline(s);
        for (var minute = 0.0; minute <= 180; minute += 10)
        {
            timeline.Add(minute, "bob", "pc", "sales", "select"); // engages every ten minutes: units at 0, 10, 20, …
        }
        timeline.Reload(67, "sales").Reload(127, "sales").Reload(188, "sales").Run(); // between his units: each starts one
        Assert.Equal(3, Reloads(s).Count(d => d.Kind == DecisionKind.Charged));
        var waste = Waste(tally);
        Assert.Equal(new ReloadFigures(3, 18, 0, 0), waste.Total);
        Assert.All(waste.Hours, h => Assert.Equal(0, h.IdleUnits));
    }

    [Fact]
    public void DeviceMode_IdleOnOneDevice_ActiveOnAnother_OnlyTheIdleDevicesUnitIsIdle()
    {
        var (s, tally) = Start();
        new Timeline(s)
            .Add(0, "cy", "office", "sales", "open-app")          // left open at the office
            .Heartbeats("cy", "office", 10, 60)
            .Add(20, "cy", "laptop", "sales", "open-app")         // and working on the laptop
            .Add(50, "cy", "laptop", "sales", "select")
            .Reload(60, "sales")                                   // two keys: (cy, office) and (cy, laptop)
            .Run();
        Assert.Equal(2, Reloads(s).Count(d => d.Kind == DecisionKind.Charged));
        var waste = Waste(tally);
        Assert.Equal(new ReloadFigures(2, 12, 1, 6), waste.Total);
        Assert.Equal(new ReloadFigures(2, 12, 1, 6), waste.Users[s.UserId("cy")]);
    }

    [Fact]
    public void AppMode_EngagementOnTheAppFromAnyDevice_KeepsTheKeyInUse()
    {
        // App mode: the key is (user, app), so work in the same app on the laptop is engagement on the office
        // connection's key; work in another app is not.
        var (s, tally) = Start(Scenario.App);
        new Timeline(s)
            .Add(0, "cy", "office", "sales", "open-app")
            .Add(0, "cy", "office", "hr", "open-app")
            .Heartbeats("cy", "office", 10, 60)
            .Add(45, "cy", "laptop", "sales", "select")
            .Add(50, "cy", "laptop", "finance", "select")
            .Reload(60, "sales").Reload(60, "hr")
            .Run();
        Assert.Equal(2, Reloads(s).Count(d => d.Kind == DecisionKind.Charged));
        var waste = Waste(tally);
        Assert.Equal(new ReloadFigures(1, 6, 0, 0), waste.Apps[s.AppId("sales")]);
        Assert.Equal(new ReloadFigures(1, 6, 1, 6), waste.Apps[s.AppId("hr")]);
    }

    [Theory]
    [InlineData(30, true)]   // the engagement exactly Q before the reload is outside (t − Q, t]
    [InlineData(29, false)]
    [InlineData(29.99, false)]
    [InlineData(31, true)]
    public void ReloadAtTheQuietTimeBoundary(double minutesSinceEngagement, bool idle)
    {
        var (s, tally) = Start();
        new Timeline(s)
            .Add(0, "dee", "pc", "sales", "open-app")
            .Heartbeats("dee", "pc", 10, 40)
            .Reload(minutesSinceEngagement, "sales")
            .Run();
        Assert.Equal(DecisionKind.Charged, Assert.Single(Reloads(s)).Kind);
        Assert.Equal(idle ? 1 : 0, Waste(tally).Total.IdleUnits);
    }

    [Theory]
    [InlineData(10, 9, false)]
    [InlineData(10, 10, true)]
    [InlineData(60, 59, false)]
    [InlineData(60, 60, true)]
    public void QuietTimeIsConfigurable(int quietMinutes, double minutesSinceEngagement, bool idle)
    {
        var (s, tally) = Start(quiet: TimeSpan.FromMinutes(quietMinutes));
        new Timeline(s)
            .Add(0, "dee", "pc", "sales", "open-app")
            .Heartbeats("dee", "pc", 10, 60)
            .Reload(minutesSinceEngagement, "sales")
            .Run();
        Assert.Equal(idle ? 1 : 0, Waste(tally).Total.IdleUnits);
    }

    [Fact]
    public void PresenceAndClosingAreNotEngagement_ADeniedEngagementIs()
    {
        var (s, tally) = Start(Scenario.Pool(6));
        new Timeline(s)
            .Add(0, "eve", "pc", "sales", "open-app")             // the pool's only unit
            .Add(20, "eve", "pc", "hr", "open-app")               // denied pool-exhausted: still her own engagement
            .Add(25, "eve", "pc", "hr", "close-app")
            .Heartbeats("eve", "pc", 30, 40)
            .Reload(45, "sales")
            .Run();
        var denied = s.Decisions.First(d => d.Event.Action == MeterAction.OpenApp && d.Decision.Kind == DecisionKind.Denied).Decision;
        Assert.Equal(DenyReason.PoolExhausted, denied.Reason);
        Assert.Equal(Scenario.At(20).UtcTicks, s.Meter.LastEngagementTicks(denied.Key));
        Assert.Equal(DenyReason.PoolExhausted, Assert.Single(Reloads(s)).Reason);
        Assert.Empty(tally.Periods());                             // a denied reload starts no unit
    }

    [Fact]
    public void ACoveredReload_StartsNoUnit_AndIsNotCounted()
    {
        var (s, tally) = Start();
        new Timeline(s)
            .Add(0, "fay", "pc", "sales", "open-app")
            .Heartbeats("fay", "pc", 10, 40)
            .Add(40, "fay", "pc", "hr", "open-app")               // unit 40–46 on (fay, pc)
            .Reload(43, "sales")
            .Run();
        Assert.Equal(DecisionKind.Covered, Assert.Single(Reloads(s)).Kind);
        Assert.Empty(tally.Periods());
    }

    [Fact]
    public void CloseIdleAfter_SavesTheIdleReloadUnits_AndNothingOfTheActiveUser()
    {
        static (long Ann, long Bob) Minutes(MeterOptions options)
        {
            var s = new Scenario(options);
            var timeline = new Timeline(s).Add(0, "ann", "pc", "sales", "open-app").Heartbeats("ann", "pc", 10, 180);
            for (var minute = 1.0; minute <= 181; minute += 10)
            {
                timeline.Add(minute, "bob", "pc2", "sales", "select");
            }
            timeline.Reload(60, "sales").Reload(120, "sales").Reload(180, "sales").Reload(187, "sales").Run();
            return (s.UnitsOf("ann") * 6L, s.UnitsOf("bob") * 6L);
        }
        var asIs = Minutes(new MeterOptions());
        var closed = Minutes(new MeterOptions { CloseIdleAfterMinutes = 30 });
        Assert.Equal(6 + 4 * 6, asIs.Ann);                        // open-app, and each reload (ann never engages again)
        Assert.Equal(6, closed.Ann);                              // the connection closed at 09:30
        Assert.Equal(19 * 6 + 6, asIs.Bob);                       // a unit per select, and the reload at 12:07 between them
        Assert.Equal(asIs.Bob, closed.Bob);
    }

    [Fact]
    public void CloseIdleAfter_ReengagingReconnectsOnlyWhatTheUserOpens()
    {
        // Device mode: at 10:00 the key (gus, pc) has been quiet for 60 minutes, so the policy closed sales and hr at
        // 09:30; gus then works in hr only. A reload of sales charges nobody, a reload of hr is covered by his unit.
        var s = new Scenario(new MeterOptions { CloseIdleAfterMinutes = 30 });
        new Timeline(s)
            .Add(0, "gus", "pc", "sales", "open-app")
            .Add(0, "gus", "pc", "hr", "open-app")
            .Heartbeats("gus", "pc", 10, 60)
            .Add(60, "gus", "pc", "hr", "select")
            .Reload(62, "sales").Reload(62, "hr")
            .Run();
        Assert.Equal(DecisionKind.Covered, Assert.Single(Reloads(s)).Kind);
    }

    /// <summary>Events written in any order, applied in time order (ties in the order written), as a replay does.</summary>
    private sealed class Timeline(Scenario scenario)
    {
        private readonly List<(double Minute, string? User, string? Device, string? App, string Action)> _events = [];

        public Timeline Add(double minute, string? user, string? device, string? app, string action)
        {
            _events.Add((minute, user, device, app, action));
            return this;
        }

        /// <summary>Heartbeats every ten minutes from <paramref name="from"/> to <paramref name="to"/>: present, never engaged.</summary>
        public Timeline Heartbeats(string user, string device, double from, double to)
        {
            for (var minute = from; minute <= to; minute += 10)
            {
                Add(minute, user, device, null, "heartbeat");
            }
            return this;
        }

        public Timeline Reload(double minute, string app) => Add(minute, null, null, app, "scheduled-reload");

        public void Run()
        {
            foreach (var e in _events.OrderBy(e => e.Minute))
            {
                scenario.Event(Scenario.At(e.Minute), e.User, e.Device, e.App, e.Action);
            }
        }
    }

    private static readonly long T0 = Scenario.Day.UtcTicks;

    private static readonly MeterAction[] ActionMix =
    [
        MeterAction.OpenApp, MeterAction.Select, MeterAction.ScheduledReload, MeterAction.ScheduledReload, MeterAction.ScheduledReload,
        MeterAction.Heartbeat, MeterAction.Heartbeat, MeterAction.Heartbeat, MeterAction.CloseApp, MeterAction.Logout,
    ];

    /// <summary>Events minutes apart with many reloads and heartbeats, few users, devices and apps, so idle keys are common.</summary>
    private static readonly Gen<MeterEvent[]> Events =
        Gen.Select(Gen.Int[0, 20], Gen.Int[1, 3], Gen.Int[0, 1], Gen.Int[1, 3], Gen.Int[0, ActionMix.Length - 1])
            .Array[1, 150]
            .Select(raw =>
            {
                var t = T0;
                return raw.Select(r =>
                {
                    t += r.Item1 * TimeSpan.TicksPerMinute;
                    var action = ActionMix[r.Item5];
                    return new MeterEvent(t, action == MeterAction.ScheduledReload ? 0 : r.Item2, r.Item3,
                        action == MeterAction.Logout || action == MeterAction.Heartbeat ? 0 : r.Item4, action);
                }).ToArray();
            });

    private static readonly Gen<(bool AppMode, int Quiet)> Settings = Gen.Select(Gen.Bool, Gen.Int[1, 60]);

    private static (Meter Meter, ReloadWasteTally Waste, Dictionary<int, long> Minutes) Run(MeterEvent[] events, bool appMode, int quiet, int? closeIdleAfter)
    {
        var meter = new Meter(new MeterOptions { Mode = appMode ? CountingMode.App : CountingMode.Device, CloseIdleAfterMinutes = closeIdleAfter });
        var waste = new ReloadWasteTally(meter, TimeSpan.FromMinutes(quiet), TimeZoneInfo.Utc);
        var sink = new MinutesPerUser(waste);
        foreach (var e in events)
        {
            meter.Apply(e, sink);
        }
        return (meter, waste, sink.Minutes);
    }

    [Fact]
    public void Property_IdleReloadMinutes_NeverExceedReloadStartedMinutes()
    {
        Gen.Select(Events, Settings).Sample(t =>
        {
            var (_, waste, _) = Run(t.Item1, t.Item2.AppMode, t.Item2.Quiet, null);
            foreach (var period in waste.Periods())
            {
                Assert.InRange(period.Total.IdleMinutes, 0, period.Total.ReloadMinutes);
                Assert.All(period.Users.Values, u => Assert.InRange(u.IdleMinutes, 0, u.ReloadMinutes));
                Assert.Equal(period.Total.IdleMinutes, period.Hours.Sum(h => h.IdleMinutes));
                Assert.Equal(period.Total.IdleMinutes, period.Apps.Values.Sum(a => a.IdleMinutes));
            }
        }, iter: 2000);
    }

    [Fact]
    public void Property_ClosingIdleConnections_NeverIncreasesAnyUsersMinutes_AndLeavesNoIdleReloadUnit()
    {
        // Without a pool or caps (metering only), closing connections can only take reload charges away.
        Gen.Select(Events, Settings).Sample(t =>
        {
            var (events, (appMode, quiet)) = t;
            var asIs = Run(events, appMode, quiet, null).Minutes;
            var (_, waste, closed) = Run(events, appMode, quiet, quiet);
            foreach (var (user, minutes) in closed)
            {
                Assert.True(minutes <= asIs.GetValueOrDefault(user), $"user {user}: {minutes} closed > {asIs.GetValueOrDefault(user)} as is");
            }
            // The policy closes exactly what R14 calls idle: with it, no reload unit is idle at the same quiet time.
            Assert.All(waste.Periods(), p => Assert.Equal(0, p.Total.IdleUnits));
        }, iter: 2000);
    }

    private sealed class MinutesPerUser(IDecisionSink? next) : IDecisionSink
    {
        public Dictionary<int, long> Minutes { get; } = [];

        public void Add(in MeterEvent e, in Decision d)
        {
            next?.Add(e, d);
            if (d.StartsUnit)
            {
                Minutes[d.User] = Minutes.GetValueOrDefault(d.User) + d.Minutes;
            }
        }
    }
}
