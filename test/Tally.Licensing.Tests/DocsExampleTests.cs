using Tally.Metering;

namespace Tally.Licensing.Tests;

/// <summary>The users-file example in docs/licensing.md must parse and behave as the page says.</summary>
public class DocsExampleTests
{
    private static string DocsUsersFile()
    {
        var page = File.ReadAllText(Repository.PathOf("docs/licensing.md"));
        var start = page.IndexOf("```csv\n", StringComparison.Ordinal) + "```csv\n".Length;
        return page[start..page.IndexOf("```", start, StringComparison.Ordinal)];
    }

    [Fact]
    public void DocsUsersFile_WithDocumentedLicense_BehavesAsDescribed()
    {
        var users = new SymbolTable();
        var terms = TestLicenses.Terms() with { ProfessionalSeats = 2, AnalyzerSeats = 5, AnonymousCapacity = true };
        var file = UsersFile.Parse(DocsUsersFile());
        Assert.True(file.IsValid, string.Join("; ", file.Errors));
        var directory = terms.CreateUserDirectory(file.Plan, users);
        Assert.True(directory.IsValid, string.Join("; ", directory.Errors));
        var meter = new Meter(terms.ToMeterOptions(), directory.Directory);
        var t = new DateTimeOffset(2026, 2, 2, 9, 0, 0, TimeSpan.Zero);
        UserTerms Appear(string user)
        {
            meter.Apply(MeterEvent.At(t, users.Intern(user), 0, 1, MeterAction.OpenApp));
            return meter.TermsOf(users.Intern(user))!.Value;
        }

        Assert.Equal(Allocation.Professional, Appear("alice").Allocation);
        Assert.Equal(Allocation.Analyzer, Appear("bob").Allocation);
        Assert.Equal(new UserTerms(Allocation.Capacity, 120), Appear("carol"));
        // Four Analyzer seats are left for auto-assign.
        Assert.Equal(Allocation.Analyzer, Appear("dave").Allocation);
        Assert.Equal(Allocation.Analyzer, Appear("Smith, Jo").Allocation);
        Assert.Equal(Allocation.Analyzer, Appear("u1").Allocation);
        Assert.Equal(Allocation.Analyzer, Appear("u2").Allocation);
        // Seats gone: unlisted users are not in a capacity group.
        Assert.Equal(Allocation.None, Appear("u3").Allocation);
        Assert.Equal(new UserTerms(Allocation.Capacity, 30), Appear("anon:kiosk-3"));
        Assert.Equal(1, directory.Directory.ProfessionalSeatsUsed);
    }
}
