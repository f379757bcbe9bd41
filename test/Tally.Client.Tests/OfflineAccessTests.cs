using CsCheck;
using Tally.Contract;

namespace Tally.Client.Tests;

/// <summary>The offline policy's decisions, with the time passed in (no server: the rule is the client's own).</summary>
public sealed class OfflineAccessTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    private static EventDto Event(string user, string action, string app = "sales", string device = "pc") => new(Guid.NewGuid().ToString("N"), user, device, app, action, null);

    [Fact]
    public void Fail_closed_denies_everything_with_reason_offline()
    {
        var access = new OfflineAccess(OfflineAccessPolicy.FailClosed, 60, 6, TimeSpan.FromSeconds(30), []);
        var (decision, grace) = access.Decide(Event("ana", TallyActions.OpenApp), T0);
        Assert.False(decision.Allowed);
        Assert.True(decision.Offline);
        Assert.Equal("offline", decision.Reason);
        Assert.Equal(T0.AddSeconds(30), decision.RetryAfter);
        Assert.Null(grace);
        Assert.Equal(0, access.GraceUsed);
    }

    [Fact]
    public void Fail_open_counts_local_units_against_the_budget()
    {
        var access = new OfflineAccess(OfflineAccessPolicy.FailOpen, 12, 6, TimeSpan.FromSeconds(30), []);
        // ana starts a unit (6), stays inside it (covered), bob starts one (12): the budget is spent.
        Assert.Equal(("charged", 6), Summary(access.Decide(Event("ana", TallyActions.OpenApp), T0)));
        Assert.Equal(("covered", 0), Summary(access.Decide(Event("ana", TallyActions.Select), T0.AddMinutes(5).AddSeconds(59))));
        Assert.Equal(("charged", 6), Summary(access.Decide(Event("bob", TallyActions.OpenApp), T0.AddMinutes(1))));
        Assert.Equal(12, access.GraceUsed);
        // At the unit's end exactly, ana needs a new unit (R3), which the budget cannot pay.
        var (late, none) = access.Decide(Event("ana", TallyActions.Select), T0.AddMinutes(6));
        Assert.False(late.Allowed);
        Assert.Equal("offline-grace-exhausted", late.Reason);
        Assert.Null(none);
        // Presence and closing stay free.
        Assert.Equal(("free", 0), Summary(access.Decide(Event("ana", TallyActions.Logout), T0.AddMinutes(7))));
    }

    [Fact]
    public void Each_app_and_device_is_its_own_local_unit()
    {
        var access = new OfflineAccess(OfflineAccessPolicy.FailOpen, 60, 6, TimeSpan.Zero, []);
        access.Decide(Event("ana", TallyActions.OpenApp, "sales", "pc"), T0);
        Assert.Equal(("charged", 6), Summary(access.Decide(Event("ana", TallyActions.OpenApp, "finance", "pc"), T0)));
        Assert.Equal(("charged", 6), Summary(access.Decide(Event("ana", TallyActions.OpenApp, "sales", "phone"), T0)));
        Assert.Equal(18, access.GraceUsed);
    }

    [Fact]
    public void Restricted_actions_are_denied_offline_whatever_the_budget()
    {
        var access = new OfflineAccess(OfflineAccessPolicy.FailOpen, 600, 6, TimeSpan.FromMinutes(1), []);
        foreach (var action in new[] { TallyActions.CreateSheet, TallyActions.EditSheet, TallyActions.PublishSheet, TallyActions.CreateApp, TallyActions.EditApp, TallyActions.PublishApp })
        {
            var (decision, grace) = access.Decide(Event("pro", action), T0);
            Assert.False(decision.Allowed);
            Assert.Equal("offline-restricted", decision.Reason);
            Assert.Null(grace);
        }
        Assert.Equal(0, access.GraceUsed);
    }

    [Fact]
    public void Unreported_grants_keep_their_budget_and_units_after_a_restart()
    {
        OfflineGrant[] unreported = [new("e1", "ana", "pc", "sales", TallyActions.OpenApp, T0, 6), new("e2", "ana", "pc", "sales", TallyActions.Select, T0.AddMinutes(1), 0)];
        var access = new OfflineAccess(OfflineAccessPolicy.FailOpen, 12, 6, TimeSpan.Zero, unreported);
        Assert.Equal(6, access.GraceUsed);
        Assert.Equal(("covered", 0), Summary(access.Decide(Event("ana", TallyActions.Select), T0.AddMinutes(3))));
        access.Reload([]);
        Assert.Equal(0, access.GraceUsed);
        Assert.Equal(("charged", 6), Summary(access.Decide(Event("ana", TallyActions.Select), T0.AddMinutes(3))));
    }

    [Fact]
    public void The_budget_is_never_exceeded_whatever_the_sequence() =>
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, 3], Gen.Int[0, 600]).Array[1, 60].Sample(steps =>
        {
            var access = new OfflineAccess(OfflineAccessPolicy.FailOpen, 30, 6, TimeSpan.Zero, []);
            var granted = 0;
            var at = T0;
            foreach (var (user, app, seconds) in steps)
            {
                at = at.AddSeconds(seconds);
                var (decision, grace) = access.Decide(Event("u" + user, TallyActions.Select, "app" + app), at);
                Assert.Equal(decision.Allowed, grace is not null);
                granted += grace ?? 0;
            }
            Assert.Equal(granted, access.GraceUsed);
            Assert.True(granted <= 30, $"granted {granted} of 30");
        });

    private static (string, int) Summary((AccessDecision Decision, int? Grace) d)
    {
        Assert.True(d.Decision.Allowed, d.Decision.Reason);
        Assert.True(d.Decision.Offline);
        return (d.Decision.Decision, d.Grace!.Value);
    }
}
