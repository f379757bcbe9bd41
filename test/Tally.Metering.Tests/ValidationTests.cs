namespace Tally.Metering.Tests;

/// <summary>R4 and R12 at the edge: what a well-formed event is, and the words used to refuse one.</summary>
public class ValidationTests
{
    private static EventError? Validate(string time, string user, string device, string app, string action, string id = "")
    {
        var fields = new EventFields(time, user, device, app, action, id);
        return EventValidation.Validate(fields, timeRequired: true, new SymbolTable(), new SymbolTable(), new SymbolTable()).Error;
    }

    [Theory]
    [InlineData("2026-03-02T09:00:00Z")]
    [InlineData("2026-03-02T09:00:00.123Z")]
    [InlineData("2026-03-02T10:00:00+01:00")]
    [InlineData("2026-03-02T04:00:00-05:00")]
    [InlineData("2026-03-02T09:00:00.1234567+00:00")]
    public void Time_WithOffset_IsAccepted(string time) => Assert.Null(Validate(time, "a", "", "x", "open-app"));

    [Fact]
    public void Time_FastAndGeneralParsers_Agree()
    {
        Assert.Equal(DateTimeOffset.Parse("2026-03-02T10:00:00.5+01:00", System.Globalization.CultureInfo.InvariantCulture),
            EventValidation.ParseTime("2026-03-02T10:00:00.5+01:00"));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero), EventValidation.ParseTime("2026-03-02T09:00:00Z"));
    }

    [Theory]
    [InlineData("2026-03-02T09:00:00", "time")]
    [InlineData("2026-03-02 09:00", "time")]
    [InlineData("yesterday", "time")]
    [InlineData("2026-02-30T09:00:00Z", "time")]
    [InlineData("2026-03-02T25:00:00Z", "time")]
    [InlineData("", "time")]
    [InlineData("2026-03-02T09:00:00+14:30", "time")]
    [InlineData("2026-03-02T09:00:00-14:01", "time")]
    [InlineData("2026-03-02T09:00:00.5+15:00", "time")]
    [InlineData("2026-03-02T09:00:00+01:00\0", "time")]
    [InlineData("2026-03-02T09:00:00.1234567+01:00\0\0", "time")]
    public void Time_Bad_IsRejectedNamingTheField(string time, string field)
    {
        var error = Validate(time, "a", "", "x", "open-app");
        Assert.NotNull(error);
        Assert.Equal(field, error.Field);
    }

    [Theory]
    [InlineData("2026-03-02T09:00:00+14:00")]
    [InlineData("2026-03-02T09:00:00-14:00")]
    [InlineData("2026-03-02T09:00:00.5-14:00")]
    public void Time_OffsetAtTheLimit_IsAccepted(string time) => Assert.Null(Validate(time, "a", "", "x", "open-app"));

    [Theory]
    [InlineData("2026-03-02T09:00:00+14:30")]
    [InlineData("2026-03-02T09:00:00+14:59")]
    [InlineData("2026-03-02T09:00:00.1+99:00")]
    [InlineData("2026-03-02T09:00:00 +14:30")]
    public void ParseTime_OffsetBeyond14Hours_IsNullNeverThrows(string time) => Assert.Null(EventValidation.ParseTime(time));

    [Theory]
    [InlineData(@"ann", null)]
    [InlineData(@"Zoë 😀 文字", null)]
    [InlineData(@"a\u0000b", "has the control character U+0000 at position 2")]
    [InlineData(@"\u0001", "has the control character U+0001 at position 1")]
    [InlineData(@"tab\there", "has the control character U+0009 at position 4")]
    [InlineData(@"del\u007f", "has the control character U+007F at position 4")]
    [InlineData(@"c1\u0085", "has the control character U+0085 at position 3")]
    [InlineData(@"lone\ud800", "has an unpaired surrogate U+D800 at position 5")]
    [InlineData(@"\udc00x", "has an unpaired surrogate U+DC00 at position 1")]
    [InlineData(@"\ud83d\ude00\ud83d", "has an unpaired surrogate U+D83D at position 3")]
    [InlineData(@"\ud800\u0000", "has an unpaired surrogate U+D800 at position 1")]
    public void CheckText_ControlCharactersAndUnpairedSurrogates_RefusedWithPosition(string escaped, string? expected)
    {
        // Escaped in the attribute: metadata keeps attribute strings as UTF-8, where an unpaired surrogate cannot survive.
        var reason = EventValidation.CheckText(System.Text.RegularExpressions.Regex.Unescape(escaped));
        if (expected is null)
        {
            Assert.Null(reason);
        }
        else
        {
            Assert.StartsWith(expected, reason);
        }
    }

    [Theory]
    [InlineData("id")]
    [InlineData("user")]
    [InlineData("device")]
    [InlineData("app")]
    public void Names_WithNul_AreRejectedNamingTheFieldAndNothingIsInterned(string field)
    {
        var users = new SymbolTable();
        string Text(string name) => name == field ? "x\0y" : name == "device" ? "" : "ok";
        var fields = new EventFields("2026-03-02T09:00:00Z", Text("user"), Text("device"), Text("app"), "open-app", Text("id"));
        var error = EventValidation.Validate(fields, timeRequired: true, users, new SymbolTable(), new SymbolTable()).Error;
        Assert.Equal(field, error?.Field);
        Assert.Equal("has the control character U+0000 at position 2; names and ids may not contain control characters", error?.Reason);
        Assert.Equal(0, users.Count);
    }

    [Fact]
    public void Validate_ReplayWithoutTextCheck_AcceptsWhatALedgerAlreadyHolds()
    {
        var fields = new EventFields("", "tab\tuser", "", "x", "open-app", "");
        var parsed = EventValidation.Validate(fields, false, new SymbolTable(), new SymbolTable(), new SymbolTable(), checkText: false);
        Assert.Null(parsed.Error);
        Assert.NotEqual(0, parsed.Value.User);
    }

    [Theory]
    [InlineData("0001-01", false)]
    [InlineData("0001-02", true)]
    [InlineData("2026-03", true)]
    [InlineData("9999-11", true)]
    [InlineData("9999-12", false)]
    [InlineData("0000-12", false)]
    public void Period_TryParse_OnlyMonthsWhoseBoundsAreInstantsInEveryZone(string text, bool accepted)
    {
        Assert.Equal(accepted, Period.TryParse(text, out var period));
        if (accepted)
        {
            // Fourteen hours either side of UTC: the widest offsets there are.
            foreach (var zone in new[] { "Pacific/Kiritimati", "Etc/GMT+12", "UTC" })
            {
                var calendar = new PeriodCalendar(TimeZoneInfo.FindSystemTimeZoneById(zone));
                Assert.True(calendar.Start(period) < calendar.End(period));
            }
        }
    }

    [Fact]
    public void Action_Unknown_IsRejected()
    {
        var error = Validate("2026-03-02T09:00:00Z", "a", "", "x", "dance");
        Assert.Equal("action", error?.Field);
        Assert.Contains("unknown action 'dance'", error?.Reason);
    }

    [Fact]
    public void Action_WrongCase_IsUnknown() => Assert.Equal("action", Validate("2026-03-02T09:00:00Z", "a", "", "x", "Open-App")?.Field);

    [Fact]
    public void User_MissingForUserAction_IsRejected() => Assert.Equal("user", Validate("2026-03-02T09:00:00Z", "", "", "x", "select")?.Field);

    [Fact]
    public void User_NotNeededForScheduledReload() => Assert.Null(Validate("2026-03-02T09:00:00Z", "", "", "x", "scheduled-reload"));

    [Theory]
    [InlineData("open-app")]
    [InlineData("close-app")]
    [InlineData("scheduled-reload")]
    [InlineData("create-sheet")]
    public void App_MissingWhereRequired_IsRejected(string action) =>
        Assert.Equal("app", Validate("2026-03-02T09:00:00Z", "a", "", "", action)?.Field);

    [Theory]
    [InlineData("heartbeat")]
    [InlineData("logout")]
    public void App_NotNeededForHeartbeatAndLogout(string action) => Assert.Null(Validate("2026-03-02T09:00:00Z", "a", "", "", action));

    [Theory]
    [InlineData("user")]
    [InlineData("device")]
    [InlineData("app")]
    [InlineData("id")]
    public void Field_Oversized_IsRejected(string field)
    {
        var big = new string('x', EventValidation.MaxFieldLength + 1);
        var error = Validate("2026-03-02T09:00:00Z",
            field == "user" ? big : "a", field == "device" ? big : "", field == "app" ? big : "x", "open-app", field == "id" ? big : "");
        Assert.Equal(field, error?.Field);
    }

    [Fact]
    public void Invalid_InternsNothing()
    {
        var users = new SymbolTable();
        var fields = new EventFields("bad", "alice", "", "x", "open-app", "");
        Assert.False(EventValidation.Validate(fields, timeRequired: true, users, new SymbolTable(), new SymbolTable()).IsOk);
        Assert.Equal(0, users.Count);
    }

    [Fact]
    public void Actions_EveryWireNameRoundTrips()
    {
        foreach (var action in MeterActions.All)
        {
            Assert.True(MeterActions.TryParse(action.ToWire(), out var parsed));
            Assert.Equal(action, parsed);
        }
    }
}
