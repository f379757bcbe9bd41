using System.Text.Json;

namespace Tally.Cli.Tests;

/// <summary><c>tally meter --license --public-key --users</c>: a vendor's key and an admin's allocations, end to end.</summary>
public sealed class MeterLicenseTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-meter-license-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string PathOf(string name) => Path.Combine(_folder, name);

    private string Write(string name, params string[] lines)
    {
        File.WriteAllText(PathOf(name), string.Join('\n', lines) + "\n");
        return PathOf(name);
    }

    private void Issue(string name, params string[] extra)
    {
        if (!File.Exists(PathOf("keys/signing-key.pem")))
        {
            Assert.Equal(0, TallyProcess.Run(null, "license", "keygen", "--out", PathOf("keys")).ExitCode);
        }
        var result = TallyProcess.Run(null, ["license", "issue", "--signing-key", PathOf("keys/signing-key.pem"), "--customer", "Acme",
            "--out", PathOf(name), .. extra]);
        Assert.True(result.ExitCode == 0, result.Stderr);
    }

    // carol holds the one Professional seat, dave is capped at one unit, the pool holds three units.
    private string Events() => Write("events.csv",
        "time,user,device,app,action,id",
        "2026-03-02T09:00:00Z,carol,,sales,open-app,1",
        "2026-03-02T09:00:00Z,carol,,sales,edit-sheet,2",
        "2026-03-02T09:00:00Z,dave,,sales,open-app,3",
        "2026-03-02T09:07:00Z,dave,,sales,select,4",
        "2026-03-02T09:00:00Z,erin,,sales,open-app,5",
        "2026-03-02T09:00:00Z,frank,,sales,open-app,6",
        "2026-03-02T09:00:00Z,gina,,sales,edit-sheet,7",
        "2026-03-02T09:01:00Z,hank,,sales,open-app,8");

    private string UsersFile() => Write("users.csv", "user,allocation,groups,capMinutes", "carol,professional,,", "dave,capacity,,6");

    private ChildProcess.Result Meter(params string[] extra) =>
        TallyProcess.Run(null, ["meter", Events(), "--format", "json", "--license", PathOf("acme.lic"), "--public-key", PathOf("keys/public-key.pem"), .. extra]);

    [Fact]
    public void Meter_WithLicenseAndUsers_AppliesSeatsCapsPermissionsAndPool()
    {
        Issue("acme.lic", "--packs", "1", "--pack-minutes", "18", "--professional", "1", "--analyzer", "1", "--valid-from", "2026-01-01", "--valid-to", "2027-01-01");
        var result = Meter("--users", UsersFile());
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;

        var period = json.GetProperty("periods")[0];
        Assert.Equal(18, period.GetProperty("includedMinutes").GetInt32());
        // dave, erin and frank take the three units; hank finds the pool spent; dave's second unit passes his cap;
        // gina may not author; carol's work is a Professional's and costs the pool nothing.
        Assert.Equal(18, period.GetProperty("consumedMinutes").GetInt32());
        Assert.Equal(3, period.GetProperty("deniedEvents").GetInt32());

        var users = json.GetProperty("users").EnumerateArray().ToDictionary(u => u.GetProperty("user").GetString()!);
        Assert.Equal("professional", users["carol"].GetProperty("allocation").GetString());
        Assert.Equal(0, users["carol"].GetProperty("minutes").GetInt32());
        Assert.Equal(1, users["carol"].GetProperty("units").GetInt32());
        Assert.Equal("capacity", users["dave"].GetProperty("allocation").GetString());
        Assert.Equal(6, users["dave"].GetProperty("capMinutes").GetInt32());
        Assert.Equal(0, Assert.Single(users["dave"].GetProperty("capPeriods").EnumerateArray()).GetProperty("remainingMinutes").GetInt32());
        Assert.Equal(1, users["dave"].GetProperty("deniedEvents").GetInt32());
        Assert.Equal(JsonValueKind.Null, users["erin"].GetProperty("capMinutes").ValueKind);
        Assert.Equal(1, users["gina"].GetProperty("deniedEvents").GetInt32());
        Assert.Equal(1, users["hank"].GetProperty("deniedEvents").GetInt32());

        var allocations = json.GetProperty("allocations").EnumerateArray().ToDictionary(a => a.GetProperty("allocation").GetString()!);
        Assert.Equal(5, allocations["capacity"].GetProperty("users").GetInt32());
        Assert.Equal(18, allocations["capacity"].GetProperty("minutes").GetInt32());
        Assert.Equal(1, allocations["professional"].GetProperty("users").GetInt32());
        Assert.Equal(1, json.GetProperty("seats").GetProperty("professional").GetProperty("used").GetInt32());
        Assert.Equal("Acme", json.GetProperty("license").GetProperty("customer").GetString());
    }

    [Fact]
    public void Meter_UsersFileAsksForMoreSeatsThanLicensed_IsRejected()
    {
        Issue("acme.lic", "--packs", "1", "--professional", "1", "--valid-from", "2026-01-01", "--valid-to", "2027-01-01");
        var users = Write("users.csv", "user,allocation,groups,capMinutes", "carol,professional,,", "dave,professional,,");
        var result = Meter("--users", users);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("Professional", result.Stderr);
        Assert.Contains("license has 1", result.Stderr);
    }

    [Fact]
    public void Meter_TamperedLicense_StopsWithTheReason()
    {
        Issue("acme.lic", "--packs", "1", "--valid-from", "2026-01-01", "--valid-to", "2027-01-01");
        var key = File.ReadAllText(PathOf("acme.lic")).Trim();
        var payloadEnd = key.LastIndexOf('.');
        var tampered = key[..(payloadEnd - 3)] + (key[payloadEnd - 3] == 'A' ? 'B' : 'A') + key[(payloadEnd - 2)..];
        File.WriteAllText(PathOf("acme.lic"), tampered);
        var result = Meter();
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("license rejected", result.Stderr);
    }

    [Fact]
    public void Meter_LicenseFromAnotherVendor_IsRejected()
    {
        Issue("acme.lic", "--packs", "1", "--valid-from", "2026-01-01", "--valid-to", "2027-01-01");
        Assert.Equal(0, TallyProcess.Run(null, "license", "keygen", "--out", PathOf("other")).ExitCode);
        var result = TallyProcess.Run(null, "meter", Events(), "--license", PathOf("acme.lic"), "--public-key", PathOf("other/public-key.pem"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("bad-signature", result.Stderr);
    }

    [Fact]
    public void Meter_EventsOutsideValidity_DeniedLicenseExpired()
    {
        Issue("acme.lic", "--packs", "10", "--valid-from", "2026-01-01", "--valid-to", "2026-03-01");
        var json = JsonDocument.Parse(Meter().Stdout).RootElement;
        // Every event that needs a unit falls after the license ended.
        Assert.Equal(0, json.GetProperty("totals").GetProperty("units").GetInt32());
        Assert.Equal(8, json.GetProperty("totals").GetProperty("deniedEvents").GetInt32());
    }

    [Fact]
    public void Meter_LicenseNotCoveringTheLog_WarnsHowManyEventsFallOutside()
    {
        // The README's old flow: a license valid from today over an older log metered nothing, silently.
        Issue("acme.lic", "--packs", "10", "--valid-from", "2026-03-02T09:00:30Z", "--valid-to", "2030-01-01");
        Issue("covering.lic", "--packs", "10", "--valid-from", "2026-03-01", "--valid-to", "2030-01-01");

        var partly = Meter();
        var covered = TallyProcess.Run(null, "meter", Events(), "--license", PathOf("covering.lic"), "--public-key", PathOf("keys/public-key.pem"));

        Assert.Equal(0, partly.ExitCode);
        Assert.Contains("warning: 6 of 8 events fall outside the license's validity 2026-03-02T09:00:30Z – 2030-01-01T00:00:00Z", partly.Stderr);
        Assert.Equal(0, covered.ExitCode);
        Assert.DoesNotContain("warning", covered.Stderr);
    }

    [Fact]
    public void Meter_CappedUserOverTwoMonths_CapPeriodsPerPeriod()
    {
        Issue("acme.lic", "--packs", "10", "--valid-from", "2026-01-01", "--valid-to", "2030-01-01");
        var events = Write("two-months.csv", "time,user,device,app,action,id",
            "2026-03-31T09:00:00Z,dave,,sales,open-app,1", "2026-04-01T09:00:00Z,dave,,sales,open-app,2", "2026-04-01T09:07:00Z,dave,,sales,select,3");
        var users = Write("capped.csv", "user,allocation,groups,capMinutes", "dave,capacity,,10");

        var run = TallyProcess.Run(null, "meter", events, "--format", "json", "--license", PathOf("acme.lic"), "--public-key", PathOf("keys/public-key.pem"), "--users", users);

        Assert.True(run.ExitCode == 0, run.Stderr);
        var dave = Assert.Single(JsonDocument.Parse(run.Stdout).RootElement.GetProperty("users").EnumerateArray());
        Assert.Equal(10, dave.GetProperty("capMinutes").GetInt32());
        Assert.False(dave.TryGetProperty("capRemainingMinutes", out _));
        var periods = dave.GetProperty("capPeriods").EnumerateArray()
            .Select(p => (p.GetProperty("period").GetString(), p.GetProperty("minutes").GetInt32(), p.GetProperty("remainingMinutes").GetInt32())).ToList();
        // March: one unit, 4 left. April: one unit, then the second would pass the cap (denied), 4 left.
        Assert.Equal([("2026-03", 6, 4), ("2026-04", 6, 4)], periods);
    }

    [Fact]
    public void Meter_LicenseWithPoolOptions_IsRefused()
    {
        Issue("acme.lic", "--packs", "1");
        var result = Meter("--packs", "5");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("drop --packs", result.Stderr);
    }

    [Fact]
    public void Meter_LicenseWithoutPublicKey_IsRefused()
    {
        Issue("acme.lic", "--packs", "1");
        var result = TallyProcess.Run(null, "meter", Events(), "--license", PathOf("acme.lic"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--license needs --public-key", result.Stderr);
    }

    [Fact]
    public void Meter_UsersWithoutLicense_AssignsSeatsWithoutLimits()
    {
        var result = TallyProcess.Run(null, "meter", Events(), "--format", "json", "--users", UsersFile());
        Assert.True(result.ExitCode == 0, result.Stderr);
        var users = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("users").EnumerateArray().ToDictionary(u => u.GetProperty("user").GetString()!);
        Assert.Equal("professional", users["carol"].GetProperty("allocation").GetString());
        Assert.Equal(0, users["carol"].GetProperty("deniedEvents").GetInt32());
    }

    [Fact]
    public void Meter_BadUsersFile_NamesTheLine()
    {
        var users = Write("users.csv", "user,allocation,groups,capMinutes", "carol,wizard,,");
        var result = TallyProcess.Run(null, "meter", Events(), "--users", users);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("line 2", result.Stderr);
    }
}
