using CsCheck;

namespace Tally.Metering.Tests;

public class AllocationTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly MeterOptions Pooled = new() { Pool = new PoolTerms(1000, OverageAllowance.None) };

    /// <summary>A meter wired to a directory over its own symbol table, so tests speak in user names.</summary>
    private sealed class Harness
    {
        private readonly SymbolTable _users = new();

        public Harness(AllocationPlan plan, SeatLicense license, MeterOptions? options = null)
        {
            var result = UserDirectory.Create(plan, license, _users);
            Assert.True(result.IsValid, string.Join("; ", result.Errors));
            Directory = result.Directory;
            Meter = new Meter(options ?? Pooled, Directory);
        }

        public UserDirectory Directory { get; }

        public Meter Meter { get; }

        public int Id(string user) => _users.Intern(user);

        public Decision Engage(string user, double minutes, int app = 1, MeterAction action = MeterAction.Select) =>
            Assert.Single(Meter.Apply(MeterEvent.At(Start.AddMinutes(minutes), Id(user), 0, app, action)));

        public Allocation AllocationOf(string user) => Meter.TermsOf(Id(user))!.Value.Allocation;

        public long Consumed => Meter.PoolOf(new Period(2026, 3)).ConsumedMinutes;
    }

    private static AllocationPlan Plan(params UserAssignment[] users) => new() { Users = users };

    [Fact]
    public void Apply_ProfessionalUserAnyEvents_NeverChangesThePool()
    {
        var actions = new[]
        {
            MeterAction.OpenApp, MeterAction.Select, MeterAction.Navigate, MeterAction.Reload, MeterAction.Heartbeat,
            MeterAction.CloseApp, MeterAction.Logout, MeterAction.CreateSheet, MeterAction.PublishApp,
        };
        var events = Gen.Select(Gen.Int[0, 60 * 24 * 40], Gen.Int[1, 4], Gen.Int[0, 2], Gen.Int[0, actions.Length - 1]).Array[1, 60];
        events.Sample(sample =>
        {
            var h = new Harness(Plan(new UserAssignment("pat", Allocation.Professional)), new SeatLicense(1, 0, false));
            foreach (var (minute, app, device, action) in sample.OrderBy(s => s.Item1))
            {
                var decision = Assert.Single(h.Meter.Apply(MeterEvent.At(Start.AddMinutes(minute), h.Id("pat"), device, app, actions[action])));
                // A named user's later events inside their 0-minute record are covered by it; either way nothing is charged.
                if (decision.Kind is not (DecisionKind.Free or DecisionKind.Covered) || decision.Minutes != 0)
                {
                    return false;
                }
            }
            return h.Meter.Pools().All(p => p.ConsumedMinutes == 0 && p.Units == 0 && p.DeniedEvents == 0);
        }, iter: 200);
    }

    [Fact]
    public void Apply_AnalyzerSeat_FreeButNotPermittedToAuthor()
    {
        var h = new Harness(Plan(new UserAssignment("ann", Allocation.Analyzer)), new SeatLicense(0, 1, false));

        var open = h.Engage("ann", 0);
        var author = h.Engage("ann", 1, action: MeterAction.CreateSheet);

        Assert.Equal((DecisionKind.Free, 0), (open.Kind, open.Minutes));
        Assert.Equal(DenyReason.NotPermitted, author.Reason);
        Assert.Equal(0, h.Consumed);
    }

    [Fact]
    public void Apply_ProfessionalSeat_MayAuthor()
    {
        var h = new Harness(Plan(new UserAssignment("pat", Allocation.Professional)), new SeatLicense(1, 0, false));

        Assert.Equal(DecisionKind.Free, h.Engage("pat", 0, action: MeterAction.PublishSheet).Kind);
    }

    [Fact]
    public void Apply_UserCap15Minutes_TwoUnitsThenUserCapReached()
    {
        // U = 6: 6 and 12 fit under 15, 18 would not; the pool is untouched by the denial.
        var h = new Harness(Plan(new UserAssignment("cap", Allocation.Capacity, [], 15)), SeatLicense.CapacityOnly);

        var kinds = new[] { 0, 6, 12, 18 }.Select(m => h.Engage("cap", m)).ToList();

        Assert.Equal([DecisionKind.Charged, DecisionKind.Charged, DecisionKind.Denied, DecisionKind.Denied], kinds.Select(d => d.Kind));
        Assert.All(kinds.Skip(2), d => Assert.Equal(DenyReason.UserCapReached, d.Reason));
        Assert.Equal(12, h.Consumed);
        Assert.Equal(12, h.Meter.UserMinutes(h.Id("cap"), new Period(2026, 3)));
    }

    [Fact]
    public void Apply_UserCapReached_OtherUsersStillCharged()
    {
        var h = new Harness(Plan(new UserAssignment("cap", null, [], 6)), SeatLicense.CapacityOnly);

        h.Engage("cap", 0);
        var denied = h.Engage("cap", 6);
        var other = h.Engage("free", 6);

        Assert.Equal(DenyReason.UserCapReached, denied.Reason);
        Assert.Equal(DecisionKind.Charged, other.Kind);
        Assert.Equal(12, h.Consumed);
    }

    [Fact]
    public void Apply_UserCap_ResetsNextMonth()
    {
        var h = new Harness(Plan(new UserAssignment("cap", null, [], 6)), SeatLicense.CapacityOnly);
        h.Engage("cap", 0);
        var nextMonth = (new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero) - Start).TotalMinutes;

        Assert.Equal(DenyReason.UserCapReached, h.Engage("cap", 10).Reason);
        Assert.Equal(DecisionKind.Charged, h.Engage("cap", nextMonth).Kind);
    }

    [Theory]
    [InlineData(null, null, null, 5)] // no cap: 5 units over 30 minutes of activity
    [InlineData(30L, null, null, 5)]
    [InlineData(30L, 12L, null, 2)] // the group's cap is smaller
    [InlineData(12L, 30L, null, 2)] // the user's cap is smaller
    [InlineData(null, 30L, 18L, 3)] // the cap for everyone is smaller
    [InlineData(null, 5L, 18L, 0)] // a cap below one unit allows nothing
    public void Apply_SeveralCaps_SmallestApplies(long? userCap, long? groupCap, long? everyoneCap, int expectedUnits)
    {
        var plan = new AllocationPlan
        {
            Users = [new UserAssignment("u", null, ["sales", "emea"], userCap)],
            GroupCapMinutes = groupCap is { } g ? new Dictionary<string, long> { ["sales"] = g, ["emea"] = g + 100 } : new Dictionary<string, long>(),
            EveryoneCapMinutes = everyoneCap,
        };
        var h = new Harness(plan, SeatLicense.CapacityOnly);

        var decisions = Enumerable.Range(0, 5).Select(i => h.Engage("u", i * 6)).ToList();

        Assert.Equal(expectedUnits, decisions.Count(d => d.Kind == DecisionKind.Charged));
        Assert.All(decisions.Where(d => !d.Allowed), d => Assert.Equal(DenyReason.UserCapReached, d.Reason));
        Assert.Equal(expectedUnits * 6, h.Consumed);
    }

    [Fact]
    public void Apply_GroupCap_AppliesToEachMemberNotTheGroupTotal()
    {
        var plan = new AllocationPlan
        {
            Users = [new UserAssignment("a", null, ["sales"]), new UserAssignment("b", null, ["sales"])],
            GroupCapMinutes = new Dictionary<string, long> { ["sales"] = 6 },
        };
        var h = new Harness(plan, SeatLicense.CapacityOnly);

        Assert.Equal(DecisionKind.Charged, h.Engage("a", 0).Kind);
        Assert.Equal(DecisionKind.Charged, h.Engage("b", 0).Kind);
        Assert.Equal(DenyReason.UserCapReached, h.Engage("a", 6).Reason);
        Assert.Equal(DenyReason.UserCapReached, h.Engage("b", 6).Reason);
    }

    [Fact]
    public void Create_MoreProfessionalsThanLicensed_ErrorBeforeMetering()
    {
        var plan = Plan(
            new UserAssignment("a", Allocation.Professional),
            new UserAssignment("b", Allocation.Professional),
            new UserAssignment("c", Allocation.Professional));

        var result = UserDirectory.Create(plan, new SeatLicense(2, 10, false), new SymbolTable());

        Assert.False(result.IsValid);
        Assert.Null(result.Directory);
        var error = Assert.Single(result.Errors);
        Assert.Contains("3 users are assigned Professional seats but the license has 2", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_MoreAnalyzersThanLicensed_Error()
    {
        var result = UserDirectory.Create(Plan(new UserAssignment("a", Allocation.Analyzer)), SeatLicense.CapacityOnly, new SymbolTable());

        Assert.Contains(result.Errors, e => e.Reason.Contains("Analyzer", StringComparison.Ordinal));
    }

    [Fact]
    public void Create_SeatsExactlyAsLicensed_Valid()
    {
        var plan = Plan(new UserAssignment("a", Allocation.Professional), new UserAssignment("b", Allocation.Analyzer));

        Assert.True(UserDirectory.Create(plan, new SeatLicense(1, 1, false), new SymbolTable()).IsValid);
    }

    [Fact]
    public void Create_BadRows_EveryProblemReported()
    {
        var plan = Plan(
            new UserAssignment("dup"),
            new UserAssignment("dup"),
            new UserAssignment("anon:kiosk", Allocation.Capacity),
            new UserAssignment("pat", Allocation.Professional, [], 60),
            new UserAssignment("neg", null, [], -1));

        var result = UserDirectory.Create(plan, new SeatLicense(1, 0, true), new SymbolTable());

        Assert.Equal(4, result.Errors.Count);
    }

    [Fact]
    public void Resolve_AutoAssignBoth_ProfessionalThenAnalyzerThenCapacity()
    {
        var plan = new AllocationPlan { AutoAssignProfessional = true, AutoAssignAnalyzer = true };
        var h = new Harness(plan, new SeatLicense(1, 1, false));

        var first = h.Engage("first", 0);
        var second = h.Engage("second", 1);
        var third = h.Engage("third", 2);

        Assert.Equal(Allocation.Professional, h.AllocationOf("first"));
        Assert.Equal(Allocation.Analyzer, h.AllocationOf("second"));
        Assert.Equal(Allocation.Capacity, h.AllocationOf("third"));
        Assert.Equal((DecisionKind.Free, DecisionKind.Free, DecisionKind.Charged), (first.Kind, second.Kind, third.Kind));
        Assert.Equal(6, h.Consumed);
        Assert.Equal((1, 1), (h.Directory.ProfessionalSeatsUsed, h.Directory.AnalyzerSeatsUsed));
    }

    [Fact]
    public void Resolve_ExplicitSeatReserved_AutoAssignSkipsIt()
    {
        // The only Professional seat belongs to "owner" even before they appear, so "newcomer" gets the Analyzer seat.
        var plan = new AllocationPlan
        {
            Users = [new UserAssignment("owner", Allocation.Professional)],
            AutoAssignProfessional = true,
            AutoAssignAnalyzer = true,
        };
        var h = new Harness(plan, new SeatLicense(1, 1, false));

        h.Engage("newcomer", 0);
        h.Engage("owner", 1);

        Assert.Equal(Allocation.Analyzer, h.AllocationOf("newcomer"));
        Assert.Equal(Allocation.Professional, h.AllocationOf("owner"));
    }

    [Fact]
    public void Resolve_AutoAssignOff_FreeSeatsStayFree()
    {
        var h = new Harness(AllocationPlan.Empty, new SeatLicense(5, 5, false));

        Assert.Equal(DecisionKind.Charged, h.Engage("someone", 0).Kind);
        Assert.Equal(Allocation.Capacity, h.AllocationOf("someone"));
    }

    [Fact]
    public void Resolve_OnlyAnalyzerAutoAssign_SkipsFreeProfessionalSeats()
    {
        var h = new Harness(new AllocationPlan { AutoAssignAnalyzer = true }, new SeatLicense(5, 1, false));

        h.Engage("a", 0);
        h.Engage("b", 1);

        Assert.Equal(Allocation.Analyzer, h.AllocationOf("a"));
        Assert.Equal(Allocation.Capacity, h.AllocationOf("b"));
    }

    [Fact]
    public void Resolve_SameUserTwice_TakesOneSeat()
    {
        var users = new SymbolTable();
        var directory = UserDirectory.Create(new AllocationPlan { AutoAssignProfessional = true }, new SeatLicense(2, 0, false), users).Directory!;
        var id = users.Intern("a");

        Assert.Equal(directory.Resolve(id), directory.Resolve(id));
        Assert.Equal(1, directory.ProfessionalSeatsUsed);
    }

    [Fact]
    public void Resolve_CapacityLimitedToGroups_OthersNotLicensed()
    {
        var plan = new AllocationPlan
        {
            Users = [new UserAssignment("seller", null, ["sales"]), new UserAssignment("dev", null, ["rnd"]), new UserAssignment("guest", Allocation.Capacity)],
            CapacityGroups = new HashSet<string> { "sales" },
        };
        var h = new Harness(plan, SeatLicense.CapacityOnly);

        Assert.Equal(DecisionKind.Charged, h.Engage("seller", 0).Kind);
        Assert.Equal(DenyReason.NotLicensed, h.Engage("dev", 0).Reason);
        Assert.Equal(DenyReason.NotLicensed, h.Engage("stranger", 0).Reason);
        Assert.Equal(DecisionKind.Charged, h.Engage("guest", 0).Kind);
        Assert.Equal(12, h.Consumed);
    }

    [Fact]
    public void Resolve_NoCapacityGroups_EveryoneEligible()
    {
        var h = new Harness(AllocationPlan.Empty, SeatLicense.CapacityOnly);

        Assert.Equal(DecisionKind.Charged, h.Engage("anyone", 0).Kind);
    }

    [Fact]
    public void Resolve_AnonymousWithoutLicenseSwitch_NotLicensed()
    {
        var h = new Harness(new AllocationPlan { AutoAssignProfessional = true }, new SeatLicense(3, 0, AnonymousCapacity: false));

        Assert.Equal(DenyReason.NotLicensed, h.Engage("anon:kiosk-1", 0).Reason);
        Assert.Equal(0, h.Directory.ProfessionalSeatsUsed);
    }

    [Fact]
    public void Resolve_AnonymousWithLicenseSwitch_CapacityNeverASeat()
    {
        var h = new Harness(new AllocationPlan { AutoAssignProfessional = true }, new SeatLicense(3, 0, AnonymousCapacity: true));

        Assert.Equal(DecisionKind.Charged, h.Engage("anon:kiosk-1", 0).Kind);
        Assert.Equal(Allocation.Capacity, h.AllocationOf("anon:kiosk-1"));
        Assert.Equal(0, h.Directory.ProfessionalSeatsUsed);
    }

    [Fact]
    public void Resolve_AnonymousGroupCap_CapsEachAnonymousUser()
    {
        var plan = new AllocationPlan { GroupCapMinutes = new Dictionary<string, long> { [UserDirectory.AnonymousGroup] = 6 } };
        var h = new Harness(plan, new SeatLicense(0, 0, true));

        Assert.Equal(DecisionKind.Charged, h.Engage("anon:1", 0).Kind);
        Assert.Equal(DenyReason.UserCapReached, h.Engage("anon:1", 6).Reason);
        Assert.Equal(DecisionKind.Charged, h.Engage("anon:2", 6).Kind);
        Assert.Equal(DecisionKind.Charged, h.Engage("named", 6).Kind);
        Assert.Equal(DecisionKind.Charged, h.Engage("named", 12).Kind);
    }

    [Fact]
    public void Resolve_CapacityLimitedToGroups_AnonymousNeedTheAnonymousGroup()
    {
        var onlySales = new Harness(new AllocationPlan { CapacityGroups = new HashSet<string> { "sales" } }, new SeatLicense(0, 0, true));
        var salesAndAnonymous = new Harness(new AllocationPlan { CapacityGroups = new HashSet<string> { "sales", UserDirectory.AnonymousGroup } }, new SeatLicense(0, 0, true));

        Assert.Equal(DenyReason.NotLicensed, onlySales.Engage("anon:x", 0).Reason);
        Assert.Equal(DecisionKind.Charged, salesAndAnonymous.Engage("anon:x", 0).Kind);
    }

    [Fact]
    public void Apply_ScheduledReload_ChargesCapacityUserNotProfessional()
    {
        var h = new Harness(Plan(new UserAssignment("pat", Allocation.Professional)), new SeatLicense(1, 0, false));
        h.Engage("pat", 0);
        h.Engage("cathy", 0);

        var reload = h.Meter.Apply(MeterEvent.At(Start.AddMinutes(10), 0, 0, 1, MeterAction.ScheduledReload));

        var decision = Assert.Single(reload);
        Assert.Equal(h.Id("cathy"), decision.User);
        Assert.Equal(12, h.Consumed);
    }
}

/// <summary>The one rule for "this decision opened a unit", and the names a unit's allocation is recorded under.</summary>
public class UnitRuleTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void StartsUnit_ChargedAndNamedRecordsOnly()
    {
        var users = new SymbolTable();
        var plan = new AllocationPlan { Users = [new UserAssignment("pro", Allocation.Professional, [])] };
        var directory = UserDirectory.Create(plan, new SeatLicense(1, 0, true), users).Directory;
        var meter = new Meter(new MeterOptions { Pool = new PoolTerms(6, OverageAllowance.None) }, directory);
        Decision Apply(double minutes, string user, MeterAction action = MeterAction.OpenApp) =>
            Assert.Single(meter.Apply(MeterEvent.At(Start.AddMinutes(minutes), users.Intern(user), 0, 1, action)));

        var charged = Apply(0, "ann");
        var covered = Apply(1, "ann", MeterAction.Select);
        var named = Apply(2, "pro");
        var namedInside = Apply(3, "pro", MeterAction.Select);
        var closing = Apply(4, "ann", MeterAction.CloseApp);
        var denied = Apply(5, "bob");   // the pool (6 minutes) is spent

        Assert.Equal(
            [(DecisionKind.Charged, true), (DecisionKind.Covered, false), (DecisionKind.Free, true), (DecisionKind.Covered, false),
             (DecisionKind.Free, false), (DecisionKind.Denied, false)],
            new[] { charged, covered, named, namedInside, closing, denied }.Select(d => (d.Kind, d.StartsUnit)));
    }

    [Theory]
    [InlineData(Allocation.Capacity, "time", "analyzer_time")]
    [InlineData(Allocation.Professional, "assigned", "professional")]
    [InlineData(Allocation.Analyzer, "assigned", "analyzer")]
    public void Allotment_RoundTrips(Allocation allocation, string usage, string allotment)
    {
        Assert.Equal((usage, allotment), allocation.ToAllotment());
        Assert.Equal(allocation, AllocationNames.FromAllotment(allotment));
    }
}
