using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Tally.Metering;
using Tally.Server;

namespace Tally.Cli;

/// <summary>Renders a <see cref="MeterResult"/> as JSON (the stable machine shape), CSV or tables.</summary>
internal static class MeterReportWriter
{
    public static void WriteJson(MeterResult r, Stream output, bool listUnits, int top)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        var t = r.Tally;
        w.WriteStartObject();
        w.WriteStartObject("totals");
        w.WriteNumber("events", t.Events);
        w.WriteNumber("units", t.Units);
        w.WriteNumber("minutes", t.Minutes);
        w.WriteNumber("deniedEvents", t.DeniedEvents);
        w.WriteNumber("duplicateEvents", t.DuplicateEvents);
        w.WriteNumber("invalidLines", r.Log.InvalidLines);
        w.WriteEndObject();

        w.WriteStartObject("settings");
        w.WriteString("mode", r.Options.Mode == CountingMode.Device ? "device" : "app");
        w.WriteNumber("unitMinutes", r.Options.UnitMinutes);
        w.WriteNumber("sessionTimeoutMinutes", r.Options.SessionTimeoutMinutes);
        w.WriteString("timezone", r.Options.TimeZone.Id);
        if (r.Options.Pool is { } pool)
        {
            w.WriteNumber("includedMinutes", pool.IncludedMinutes);
            w.WriteString("overage", pool.Overage.ToString());
        }
        else
        {
            w.WriteNull("includedMinutes");
            w.WriteNull("overage");
        }
        w.WriteEndObject();

        w.WriteStartArray("periods");
        foreach (var p in t.Periods())
        {
            w.WriteStartObject();
            w.WriteString("period", p.Period.ToString());
            if (p.IncludedMinutes is { } included)
            {
                w.WriteNumber("includedMinutes", included);
            }
            else
            {
                w.WriteNull("includedMinutes");
            }
            w.WriteNumber("consumedMinutes", p.ConsumedMinutes);
            w.WriteNumber("overageMinutes", p.OverageMinutes);
            if (r.Options.Pool is not null)
            {
                w.WriteNumber("overagePacks", (p.OverageMinutes + r.PackMinutes - 1) / r.PackMinutes);
            }
            w.WriteNumber("units", p.Units);
            w.WriteNumber("deniedEvents", p.DeniedEvents);
            w.WriteString("start", Iso(r.Meter.Calendar.Start(p.Period).UtcTicks));
            w.WriteString("end", Iso(r.Meter.Calendar.End(p.Period).UtcTicks));
            w.WritePropertyName("waste");
            JsonSerializer.Serialize(w, WasteReports.Of(r, p.Period, top), WasteJson.Default.WasteReport);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        if (r.WithCloseIdle is { } policy)
        {
            var rows = WasteReports.CloseIdle(r, policy);
            w.WriteStartObject("closeIdle");
            w.WriteNumber("afterMinutes", policy.Options.CloseIdleAfterMinutes ?? 0);
            w.WriteNumber("quietMinutes", (int)r.Waste.Quiet.TotalMinutes);
            w.WriteStartArray("periods");
            foreach (var row in rows.SkipLast(1))
            {
                WriteCloseIdle(w, row);
            }
            w.WriteEndArray();
            w.WritePropertyName("total");
            WriteCloseIdle(w, rows[^1]);
            w.WriteEndObject();
        }

        if (r.License is { } license)
        {
            w.WriteStartObject("license");
            w.WriteString("licenseId", license.LicenseId);
            w.WriteString("customer", license.Customer);
            w.WriteBoolean("verified", true);
            w.WriteString("validFrom", Iso(license.ValidFrom.UtcTicks));
            w.WriteString("validTo", Iso(license.ValidTo.UtcTicks));
            w.WriteNumber("packs", license.Packs);
            w.WriteNumber("packMinutes", license.PackMinutes);
            w.WriteNumber("professionalSeats", license.ProfessionalSeats);
            w.WriteNumber("analyzerSeats", license.AnalyzerSeats);
            w.WriteBoolean("anonymousCapacity", license.AnonymousCapacity);
            w.WriteEndObject();
        }

        var users = t.Users();
        if (r.Directory is { } directory)
        {
            // Per allocation: who drew what. Seats in use are those the directory handed out or the file assigned.
            w.WriteStartArray("allocations");
            foreach (var group in users.GroupBy(u => AllocationOf(r, u.User)).OrderBy(g => g.Key))
            {
                w.WriteStartObject();
                w.WriteString("allocation", group.Key.ToWire());
                w.WriteNumber("users", group.Count());
                w.WriteNumber("units", group.Sum(u => u.Units));
                w.WriteNumber("minutes", group.Sum(u => u.Minutes));
                w.WriteNumber("deniedEvents", group.Sum(u => u.DeniedEvents));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("seats");
            w.WriteStartObject("professional");
            w.WriteNumber("licensed", directory.License.ProfessionalSeats);
            w.WriteNumber("used", directory.ProfessionalSeatsUsed);
            w.WriteEndObject();
            w.WriteStartObject("analyzer");
            w.WriteNumber("licensed", directory.License.AnalyzerSeats);
            w.WriteNumber("used", directory.AnalyzerSeatsUsed);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteStartArray("users");
        foreach (var u in users)
        {
            w.WriteStartObject();
            w.WriteString("user", r.Log.Users.NameOf(u.User));
            w.WriteNumber("units", u.Units);
            w.WriteNumber("minutes", u.Minutes);
            w.WriteNumber("deniedEvents", u.DeniedEvents);
            if (r.Directory is not null)
            {
                var terms = r.Meter.TermsOf(u.User);
                w.WriteString("allocation", (terms?.Allocation ?? Allocation.None).ToWire());
                if (terms?.CapMinutes is { } cap)
                {
                    // A cap is monthly, so what is left of it is a figure per period, one entry per period in the log.
                    w.WriteNumber("capMinutes", cap);
                    w.WriteStartArray("capPeriods");
                    foreach (var p in t.Periods())
                    {
                        var used = t.UserMinutes(u.User, p.Period);
                        w.WriteStartObject();
                        w.WriteString("period", p.Period.ToString());
                        w.WriteNumber("minutes", used);
                        w.WriteNumber("remainingMinutes", Math.Max(0, cap - used));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                else
                {
                    w.WriteNull("capMinutes");
                }
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("apps");
        foreach (var a in t.Apps())
        {
            w.WriteStartObject();
            w.WriteString("app", r.Log.Apps.NameOf(a.App));
            w.WriteNumber("units", a.Units);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        if (listUnits)
        {
            w.WriteStartArray("units");
            foreach (var u in t.UnitRecords)
            {
                w.WriteStartObject();
                w.WriteString("user", r.Log.Users.NameOf(u.User));
                w.WriteString("key", KeyName(r, u.Key));
                w.WriteString("start", Iso(u.StartTicks));
                w.WriteString("end", Iso(u.EndTicks));
                w.WriteString("period", u.Period.ToString());
                w.WriteString("trigger", u.Trigger.ToWire());
                w.WriteNumber("minutes", u.Minutes);
                w.WriteStartArray("apps");
                foreach (var app in u.Apps)
                {
                    w.WriteStringValue(r.Log.Apps.NameOf(app));
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteCloseIdle(Utf8JsonWriter w, CloseIdleRow row)
    {
        w.WriteStartObject();
        w.WriteString("period", row.Period);
        w.WriteNumber("consumedMinutes", row.ConsumedMinutes);
        w.WriteNumber("withPolicyMinutes", row.WithPolicyMinutes);
        w.WriteNumber("savedMinutes", row.SavedMinutes);
        w.WriteNumber("idleReloadMinutes", row.IdleReloadMinutes);
        w.WriteEndObject();
    }

    /// <summary>
    /// CSV is one table: the units with <c>--list-units</c>, otherwise the users. Written by the server's
    /// <see cref="CsvWriter"/>, so names from the log are neutralised against formula injection like the server's exports.
    /// The users table also carries each user's idle-reload units and minutes over the log (R14) and, with
    /// <c>--close-idle-after</c>, their minutes with the policy and the difference; the unit listing stays as it is.
    /// </summary>
    public static void WriteCsv(MeterResult r, TextWriter output, bool listUnits)
    {
        var csv = new CsvWriter(output);
        if (listUnits)
        {
            csv.Row(["user", "key", "start", "end", "period", "trigger", "minutes", "apps"]);
            foreach (var u in r.Tally.UnitRecords)
            {
                csv.Text(r.Log.Users.NameOf(u.User)).Text(KeyName(r, u.Key)).Text(Iso(u.StartTicks)).Text(Iso(u.EndTicks))
                    .Text(u.Period.ToString()).Text(u.Trigger.ToWire()).Number(u.Minutes)
                    .Text(string.Join(';', u.Apps.Select(r.Log.Apps.NameOf)))
                    .EndRow();
            }
            return;
        }
        var idle = r.Waste.Periods().SelectMany(p => p.Users).GroupBy(u => u.Key)
            .ToDictionary(g => g.Key, g => (Units: g.Sum(u => u.Value.IdleUnits), Minutes: g.Sum(u => u.Value.IdleMinutes)));
        var withPolicy = r.WithCloseIdle?.Tally.Users().ToDictionary(u => u.User, u => u.Minutes);
        csv.Row(["user", "units", "minutes", "deniedEvents", "idleReloadUnits", "idleReloadMinutes", .. withPolicy is null ? [] : new[] { "withPolicyMinutes", "savedMinutes" }]);
        foreach (var u in r.Tally.Users())
        {
            var (idleUnits, idleMinutes) = idle.GetValueOrDefault(u.User);
            csv.Text(r.Log.Users.NameOf(u.User)).Number(u.Units).Number(u.Minutes).Number(u.DeniedEvents).Number(idleUnits).Number(idleMinutes);
            if (withPolicy is not null)
            {
                var after = withPolicy.GetValueOrDefault(u.User);
                csv.Number(after).Number(u.Minutes - after);
            }
            csv.EndRow();
        }
    }

    public static void WriteTables(MeterResult r, IAnsiConsole console, int top)
    {
        var t = r.Tally;
        var totals = new Table().AddNumberColumns("events", "units", "minutes", "denied", "duplicates", "invalid lines");
        totals.AddRow(N(t.Events), N(t.Units), N(t.Minutes), N(t.DeniedEvents), N(t.DuplicateEvents), N(r.Log.InvalidLines));
        console.WriteTitled("Totals", totals);

        var periods = new Table().AddColumn("period").AddNumberColumns("included", "consumed", "overage", "units", "denied");
        foreach (var p in t.Periods())
        {
            periods.AddRow(p.Period.ToString(), p.IncludedMinutes is { } i ? N(i) : "metered only", N(p.ConsumedMinutes), N(p.OverageMinutes), N(p.Units), N(p.DeniedEvents));
        }
        console.WriteTitled("Periods", periods);
        WriteWasteTables(r, console, top);

        var users = t.Users();
        var userTable = new Table().AddColumn("user").AddNumberColumns("units", "minutes", "denied");
        foreach (var u in users.Take(top))
        {
            userTable.AddRow(Markup.Escape(r.Log.Users.NameOf(u.User)), N(u.Units), N(u.Minutes), N(u.DeniedEvents));
        }
        console.WriteTitled($"Top users ({N(Math.Min(top, users.Count))} of {N(users.Count)})", userTable);

        var apps = t.Apps();
        var appTable = new Table().AddColumn("app").AddNumberColumns("units");
        foreach (var a in apps.Take(top))
        {
            appTable.AddRow(Markup.Escape(r.Log.Apps.NameOf(a.App)), N(a.Units));
        }
        console.WriteTitled($"Top apps ({N(Math.Min(top, apps.Count))} of {N(apps.Count)})", appTable);
    }

    /// <summary>R14 per period: what scheduled reloads charged users idle on the reloaded key, who and which apps; then the what-if.</summary>
    private static void WriteWasteTables(MeterResult r, IAnsiConsole console, int top)
    {
        var reports = WasteReports.PeriodsOf(r).Select(p => WasteReports.Of(r, p, top)).ToList();
        var summary = new Table().AddColumn("period").AddNumberColumns("reload units", "reload min", "idle units", "idle min", "of consumed", "of included");
        foreach (var w in reports)
        {
            summary.AddRow(w.Period, N(w.ReloadUnits), N(w.ReloadMinutes), N(w.IdleReloadUnits), N(w.IdleReloadMinutes), Percent(w.ShareOfConsumed),
                w.IncludedMinutes is null ? "no pool" : Percent(w.ShareOfIncluded));
        }
        console.WriteTitled($"Minutes charged by reloads to idle users (no engagement in the {N((long)r.Waste.Quiet.TotalMinutes)} min before)", summary);
        foreach (var w in reports.Where(w => w.IdleReloadUnits > 0))
        {
            var users = new Table().AddColumn("user").AddNumberColumns("idle units", "idle min", "reload min");
            foreach (var u in w.Users)
            {
                users.AddRow(Markup.Escape(u.User), N(u.IdleReloadUnits), N(u.IdleReloadMinutes), N(u.ReloadMinutes));
            }
            console.WriteTitled($"Idle users charged by reloads, {w.Period} ({N(w.Users.Count)} of {N(w.UserCount)})", users);
            var apps = new Table().AddColumn("reloaded app").AddNumberColumns("idle units", "idle min", "idle users", "reload min");
            foreach (var a in w.Apps)
            {
                apps.AddRow(Markup.Escape(a.App), N(a.IdleReloadUnits), N(a.IdleReloadMinutes), N(a.IdleUsers), N(a.ReloadMinutes));
            }
            console.WriteTitled($"Apps whose reloads charged idle users, {w.Period} ({N(w.Apps.Count)} of {N(w.AppCount)})", apps);
        }
        if (r.WithCloseIdle is { } policy)
        {
            var whatIf = new Table().AddColumn("period").AddNumberColumns("consumed", "with policy", "saved", "idle-reload min");
            foreach (var row in WasteReports.CloseIdle(r, policy))
            {
                whatIf.AddRow(row.Period, N(row.ConsumedMinutes), N(row.WithPolicyMinutes), N(row.SavedMinutes), N(row.IdleReloadMinutes));
            }
            console.WriteTitled($"What if idle connections closed after {N(policy.Options.CloseIdleAfterMinutes ?? 0)} min", whatIf);
        }
    }

    /// <summary>A share as a percentage with one decimal; a dash for a share of nothing.</summary>
    internal static string Percent(double? share) => share is { } x ? (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–";

    private static Allocation AllocationOf(MeterResult r, int user) => r.Meter.TermsOf(user)?.Allocation ?? Allocation.None;

    /// <summary>A key names its scope: <c>device:NAME</c> in device mode, <c>app:NAME</c> in app mode.</summary>
    internal static string KeyName(MeterResult r, MeterKey key) => r.Options.Mode == CountingMode.Device
        ? "device:" + (key.Scope == 0 ? "(default)" : r.Log.Devices.NameOf(key.Scope))
        : "app:" + r.Log.Apps.NameOf(key.Scope);

    /// <summary>UTC instants on the wire: ISO-8601 with <c>Z</c>, fractions only when there are any.</summary>
    internal static string Iso(long ticks) => new DateTime(ticks, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
