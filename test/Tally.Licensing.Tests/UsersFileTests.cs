using Tally.Metering;

namespace Tally.Licensing.Tests;

public class UsersFileTests
{
    private const string Example = """
        user,allocation,groups,capMinutes
        alice,professional,,
        bob,analyzer,sales,
        carol,capacity,sales;emea,120
        dave,,rnd,
        group:sales,capacity,,600
        group:rnd,,,60
        group:anonymous,capacity,,30
        *,analyzer,,
        *,,,900
        """;

    [Fact]
    public void Parse_Example_ReadsEveryKindOfRow()
    {
        var result = UsersFile.Parse(Example);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        var plan = result.Plan;
        Assert.Equal(["alice", "bob", "carol", "dave"], plan.Users.Select(u => u.User));
        Assert.Equal([Allocation.Professional, Allocation.Analyzer, Allocation.Capacity, (Allocation?)null], plan.Users.Select(u => u.Allocation));
        Assert.Equal(["sales", "emea"], plan.Users[2].Groups);
        Assert.Equal(120, plan.Users[2].CapMinutes);
        Assert.Equal(["anonymous", "sales"], plan.CapacityGroups.Order());
        Assert.Equal(600, plan.GroupCapMinutes["sales"]);
        Assert.Equal(60, plan.GroupCapMinutes["rnd"]);
        Assert.Equal(30, plan.GroupCapMinutes["anonymous"]);
        Assert.Equal(900, plan.EveryoneCapMinutes);
        Assert.False(plan.AutoAssignProfessional);
        Assert.True(plan.AutoAssignAnalyzer);
    }

    [Fact]
    public void Parse_HeaderOnly_EmptyPlan()
    {
        var result = UsersFile.Parse("user,allocation,groups,capMinutes\n");

        Assert.True(result.IsValid);
        Assert.Empty(result.Plan.Users);
        Assert.False(result.Plan.AutoAssignProfessional);
    }

    [Fact]
    public void Parse_QuotedFieldsAndCrLf_Read()
    {
        var result = UsersFile.Parse("user,allocation,groups,capMinutes\r\n\"Smith, Jo\",capacity,\"sales; emea\",60\r\n");

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        var row = Assert.Single(result.Plan.Users);
        Assert.Equal("Smith, Jo", row.User);
        Assert.Equal(["sales", "emea"], row.Groups);
    }

    [Fact]
    public void Parse_MissingHeader_ErrorOnLineOne()
    {
        var result = UsersFile.Parse("alice,professional,,\n");

        var error = Assert.Single(result.Errors);
        Assert.Equal(1, error.Line);
        Assert.Contains("header", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Empty_Error() =>
        Assert.False(UsersFile.Parse("").IsValid);

    [Fact]
    public void Parse_BadLines_EveryErrorWithItsLineNumber()
    {
        var text = string.Join('\n',
            "user,allocation,groups,capMinutes",
            "alice,owner,,",            // 2: unknown allocation
            "bob,capacity,,-5",         // 3: negative cap
            "carol,capacity,,ten",      // 4: not a number
            "dave,capacity",            // 5: too few fields
            "erin,,,",
            "erin,,,",                  // 7: duplicate
            "group:sales,professional,,", // 8: seat on a group
            "*,capacity,,",             // 9: '*' capacity
            "anon:kiosk,capacity,,",    // 10: anonymous assigned
            "frank,professional,,60",   // 11: cap on a seat
            "\"open,capacity,,",        // 12: unclosed quote
            ",capacity,,",              // 13: empty user
            "gina,capacity,a;;b,");     // 14: empty group name

        var result = UsersFile.Parse(text);

        Assert.False(result.IsValid);
        Assert.Equal([2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14], result.Errors.Select(e => e.Line));
        Assert.Contains("line 7", result.Errors[4].ToString(), StringComparison.Ordinal);
        Assert.Contains("line 6", result.Errors[4].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void UsersFile_CapacityGroupsWithoutFreeSeats_OutsidersNotLicensed()
    {
        var users = new SymbolTable();
        var plan = UsersFile.Parse("user,allocation,groups,capMinutes\ndave,,rnd,\nsam,,sales,\ngroup:sales,capacity,,\n").Plan!;
        var meter = new Meter(TestLicenses.Terms(packs: 1).ToMeterOptions(), (TestLicenses.Terms() with { ProfessionalSeats = 0, AnalyzerSeats = 0 }).CreateUserDirectory(plan, users).Directory);
        var t = new DateTimeOffset(2026, 5, 4, 8, 0, 0, TimeSpan.Zero);

        var dave = Assert.Single(meter.Apply(MeterEvent.At(t, users.Intern("dave"), 0, 1, MeterAction.OpenApp)));
        var sam = Assert.Single(meter.Apply(MeterEvent.At(t, users.Intern("sam"), 0, 1, MeterAction.OpenApp)));

        Assert.Equal(DenyReason.NotLicensed, dave.Reason);
        Assert.Equal(DecisionKind.Charged, sam.Kind);
    }

    [Fact]
    public void CreateUserDirectory_MoreSeatsThanLicensed_Error()
    {
        var plan = UsersFile.Parse("user,allocation,groups,capMinutes\na,professional,,\nb,professional,,\nc,professional,,\n").Plan!;

        var result = TestLicenses.Terms().CreateUserDirectory(plan, new SymbolTable());

        Assert.False(result.IsValid);
        Assert.Contains("license has 2", Assert.Single(result.Errors).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void UsersFileAndLicense_MeteredEndToEnd_HandComputedOutcome()
    {
        // License: 2 Professional, 5 Analyzer seats, anonymous capacity on, app mode, U = 6.
        var users = new SymbolTable();
        var plan = UsersFile.Parse(Example).Plan!;
        var terms = TestLicenses.Terms();
        var directory = terms.CreateUserDirectory(plan, users);
        Assert.True(directory.IsValid, string.Join("; ", directory.Errors));
        var meter = new Meter(terms.ToMeterOptions(), directory.Directory);
        var t0 = new DateTimeOffset(2026, 5, 4, 8, 0, 0, TimeSpan.Zero);
        Decision Engage(string user, int minute) =>
            Assert.Single(meter.Apply(MeterEvent.At(t0.AddMinutes(minute), users.Intern(user), 0, 1, MeterAction.Select)));

        Assert.Equal(DecisionKind.Free, Engage("alice", 0).Kind);       // explicit Professional
        Assert.Equal(DecisionKind.Free, Engage("zoe", 0).Kind);         // unlisted: auto-assigned an Analyzer seat
        Assert.Equal(Allocation.Analyzer, meter.TermsOf(users.Intern("zoe"))!.Value.Allocation);
        Assert.Equal(DecisionKind.Charged, Engage("carol", 0).Kind);    // explicit capacity, cap min(120, 600, 900) = 120
        Assert.Equal(DecisionKind.Free, Engage("dave", 0).Kind);        // no explicit allocation: a free Analyzer seat comes first
        // Anonymous: eligible through the 'anonymous' group, capped at 30 minutes = 5 units; the 6th would make 36.
        Assert.All(Enumerable.Range(0, 5), i => Assert.Equal(DecisionKind.Charged, Engage("anon:kiosk", i * 6).Kind));
        Assert.Equal(DenyReason.UserCapReached, Engage("anon:kiosk", 30).Reason);
        Assert.Equal(120, meter.TermsOf(users.Intern("carol"))!.Value.CapMinutes);
        Assert.Equal(30, meter.TermsOf(users.Intern("anon:kiosk"))!.Value.CapMinutes);
        Assert.Equal(6 + 30, meter.PoolOf(new Period(2026, 5)).ConsumedMinutes);
    }
}
