using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Spectre.Console;
using Tally.Cli.EventLog;
using Tally.Contract;
using Tally.Metering;
using Tally.Server.Monitoring;
using Tally.Storage;

namespace Tally.Cli;

/// <summary>
/// <c>tally report</c>: the period summary, run-rate, forecast and top users, either from a running server
/// (<c>--server URL --key KEY</c>: its <c>/api/v1/usage/summary</c> and <c>/usage/users</c>) or from an event log
/// metered exactly as <c>tally meter</c> does (EventLogReader + MeterRun), with the same core math as the server.
/// </summary>
internal static class ReportCommand
{
    private static readonly Argument<string?> FileArgument = new("FILE") { Description = "Events as CSV or JSON Lines (as for tally meter). Omit with --server.", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string?> Server = new("--server") { Description = "Base URL of a running Tally server, e.g. http://127.0.0.1:5000." };
    private static readonly Option<string?> Key = new("--key") { Description = "A read or admin API key of the tenant (or set TALLY_KEY)." };
    private static readonly Option<string?> PeriodOption = new("--period") { Description = "YYYY-MM; default: the current period (server) or the period of the last event (file)." };
    private static readonly Option<string?> AsOf = new("--as-of")
    {
        Description = "File mode: the instant the report is made at (ISO-8601 with an offset, e.g. 2026-05-07T00:00Z); only events at or before it count. Default: the last event's time.",
    };
    private static readonly Option<string> Holidays = new("--holidays")
    {
        Description = "File mode: whose public holidays the forecast treats as closed days: auto (the country of --timezone), none, or an ISO 3166-1 alpha-2 code such as FR.",
        DefaultValueFactory = _ => "auto",
    };
    private static readonly Option<string?> ClosedDays = new("--closed-days") { Description = "File mode: the organisation's own closure days, ISO dates separated by commas (2026-12-24,2026-12-31)." };
    private static readonly MeterOptionSet Metering = new();
    private static readonly Option<int> Top = new("--top") { Description = "Top users to list.", DefaultValueFactory = _ => 10 };
    private static readonly Option<string> Format = new("--format") { Description = "table or json.", DefaultValueFactory = _ => "table" };

    public static Command Create()
    {
        var command = new Command("report", "Print a tenant's period summary, run-rate, forecast and top users, from a server or an event log.")
        {
            FileArgument, Server, Key, PeriodOption, AsOf, Holidays, ClosedDays, Top, Format,
        };
        Metering.AddTo(command);
        command.SetAction((parse, cancel) => RunAsync(parse, cancel));
        return command;
    }

    /// <summary>What the report prints, whichever the source.</summary>
    internal sealed record ReportModel(
        string Source, string Period, DateTimeOffset Start, DateTimeOffset End, long? IncludedMinutes, long? LimitMinutes, long ConsumedMinutes,
        long Units, long DeniedEvents, ReportRunRate? RunRate, ReportForecast Forecast, IReadOnlyList<ReportUser> TopUsers)
    {
        /// <summary>
        /// R14: what scheduled reloads charged idle users in the period, as the server's waste report (from a server, its
        /// <c>/api/v1/usage/waste</c>; null when the server has none for the tenant).
        /// </summary>
        public WasteReport? Waste { get; init; }
    }

    internal sealed record ReportRunRate(double ExpectedMinutes, double DeltaMinutes, double? DeltaPercent, string Status);

    /// <summary>
    /// Run-outs: the outcome as the API names it, and the instant when projected, or when already reached and known
    /// (from a file: the unit that used the last whole unit's room; a server's API does not say, so null). The range
    /// and the model are the API's own types (<c>forecast.range</c>, <c>forecast.model</c>), so the JSON of a file
    /// and of a server read the same; <see cref="Range"/>'s demand bounds go with <see cref="ProjectedDemandMinutes"/>
    /// (<see cref="ProjectedMinutes"/> is that demand capped at the limit). <see cref="Model"/> is null only from a
    /// server too old to send it.
    /// </summary>
    internal sealed record ReportForecast(string Method, DateTimeOffset AsOf, double ProjectedMinutes, DateTimeOffset? IncludedRunOut, string IncludedRunOutOutcome,
        DateTimeOffset? LimitRunOut, string LimitRunOutOutcome, double ProjectedDemandMinutes, ForecastRangeView Range, ForecastModelView? Model);

    internal sealed record ReportUser(string User, long Units, long Minutes);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        var format = parse.GetValue(Format)!;
        var top = parse.GetValue(Top);
        if (format is not ("table" or "json"))
        {
            stderr.WriteLine($"tally report: --format must be table or json, not '{format}'");
            return 1;
        }
        if (top is < 1 or > 1000)
        {
            stderr.WriteLine("tally report: --top must be between 1 and 1000");
            return 1;
        }
        var server = parse.GetValue(Server);
        var file = parse.GetValue(FileArgument);
        if (server is null && file is null)
        {
            stderr.WriteLine("tally report: nothing to report on: give an event log FILE (e.g. tally report examples/events.csv) or --server URL with --key");
            return 1;
        }
        if (server is not null && file is not null)
        {
            stderr.WriteLine($"tally report: give an event log FILE or --server URL, not both ('{file}' and --server {server})");
            return 1;
        }
        if (server is not null && FileModeOnlyGiven(parse) is { Count: > 0 } given)
        {
            // Ignoring them would print the server's figures as if they answered the options: refuse instead.
            var names = given.Count == 1 ? given[0] : string.Join(", ", given[..^1]) + " and " + given[^1];
            stderr.WriteLine($"tally report: {names} {(given.Count == 1 ? "is" : "are")} for an event log FILE only; "
                + "a server reports as of its own clock, with the tenant's license and working calendar (set them on the server)");
            return 1;
        }
        var built = server is not null
            ? await FromServerAsync(server, parse.GetValue(Key) ?? Environment.GetEnvironmentVariable("TALLY_KEY"), parse.GetValue(PeriodOption), top, cancel)
            : FromFile(parse, file!, top);
        if (!built.IsOk)
        {
            stderr.WriteLine($"tally report: {built.Error}");
            return 1;
        }
        var model = built.Value;
        if (format == "json")
        {
            stdout.WriteLine(JsonSerializer.Serialize(model, Json));
        }
        else
        {
            WriteTable(model!, CliConsole.For(stdout));
        }
        return 0;
    }

    private static async Task<Outcome<ReportModel, string>> FromServerAsync(string server, string? key, string? period, int top, CancellationToken cancel)
    {
        if (key is null)
        {
            return "--server needs --key (or TALLY_KEY): a read or admin key of the tenant";
        }
        if (!Uri.TryCreate(server, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            return $"--server must be an http(s) URL, not '{server}'";
        }
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var query = period is null ? "" : "period=" + Uri.EscapeDataString(period);
        try
        {
            var summary = await GetAsync<UsageSummary>(http, "/api/v1/usage/summary" + (query.Length > 0 ? "?" + query : ""), cancel);
            if (!summary.IsOk)
            {
                return summary.Error;
            }
            var users = await GetAsync<UserUsagePage>(http, $"/api/v1/usage/users?sort=minutes&limit={top}" + (query.Length > 0 ? "&" + query : ""), cancel);
            if (!users.IsOk)
            {
                return users.Error;
            }
            var s = summary.Value;
            var runRate = s.RunRate is { } r ? new ReportRunRate(r.ExpectedMinutes, r.DeltaMinutes, r.DeltaPercent, r.Status) : null;
            var f = s.Forecast;
            // A server without the range sends only the point forecast: a range of one point says exactly that.
            var range = f.Range ?? new ForecastRangeView(f.ProjectedDemandMinutes, f.ProjectedDemandMinutes,
                f.IncludedRunOut, f.IncludedRunOutOutcome, f.IncludedRunOut, f.IncludedRunOutOutcome,
                f.LimitRunOut, f.LimitRunOutOutcome, f.LimitRunOut, f.LimitRunOutOutcome);
            range = WithRunOuts(range, ServerRunOut, ServerRunOut);
            var forecast = new ReportForecast(f.Method, f.AsOf, f.ProjectedMinutes,
                ServerRunOut(f.IncludedRunOut, f.IncludedRunOutOutcome), f.IncludedRunOutOutcome,
                ServerRunOut(f.LimitRunOut, f.LimitRunOutOutcome), f.LimitRunOutOutcome,
                f.ProjectedDemandMinutes, range, f.Model);
            var topUsers = users.Value.Users.Select(u => new ReportUser(u.User, u.Units, u.Minutes)).ToList();
            // R14's figure is a line of the report, not its subject: a tenant that observes another service (409) or a
            // server older than the waste report (404) leaves it out rather than failing the whole report.
            var waste = await GetAsync<WasteReport>(http, $"/api/v1/usage/waste?period={Uri.EscapeDataString(s.Period)}&limit={top}", cancel);
            return new ReportModel(baseUri.ToString(), s.Period, s.Start, s.End, s.IncludedMinutes, s.LimitMinutes,
                s.ConsumedMinutes, s.Units, s.DeniedEvents, runRate, forecast, topUsers) { Waste = waste.IsOk ? waste.Value : null };
        }
        catch (HttpRequestException e)
        {
            return $"cannot reach {baseUri}: {e.Message}";
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            return $"{baseUri} did not answer within 30 s";
        }
    }

    /// <summary>
    /// The API's run-out instant when projected. For an already reached threshold the API gives its <c>asOf</c>
    /// instant, not when it was reached, so the report does not print that as the run-out time.
    /// </summary>
    /// <summary>The range with each run-out instant replaced by what <paramref name="included"/> or <paramref name="limit"/> makes of it and its outcome.</summary>
    private static ForecastRangeView WithRunOuts(
        ForecastRangeView range, Func<DateTimeOffset?, string, DateTimeOffset?> included, Func<DateTimeOffset?, string, DateTimeOffset?> limit) => range with
    {
        IncludedRunOutEarliest = included(range.IncludedRunOutEarliest, range.IncludedRunOutEarliestOutcome),
        IncludedRunOutLatest = included(range.IncludedRunOutLatest, range.IncludedRunOutLatestOutcome),
        LimitRunOutEarliest = limit(range.LimitRunOutEarliest, range.LimitRunOutEarliestOutcome),
        LimitRunOutLatest = limit(range.LimitRunOutLatest, range.LimitRunOutLatestOutcome),
    };

    private static DateTimeOffset? ServerRunOut(DateTimeOffset? at, string outcome) =>
        outcome == RunOutOutcome.AlreadyReached.ToWire() ? null : at;

    /// <summary>The server's answer as its contract type, or what went wrong (the problem's detail when it sent one).</summary>
    private static async Task<Outcome<T, string>> GetAsync<T>(HttpClient http, string path, CancellationToken cancel) where T : class
    {
        using var response = await http.GetAsync(path, cancel);
        var text = await response.Content.ReadAsStringAsync(cancel);
        if (!response.IsSuccessStatusCode)
        {
            string? detail = null;
            try
            {
                detail = JsonSerializer.Deserialize<ApiProblem>(text, Wire)?.Detail;
            }
            catch (JsonException)
            {
                // Not problem+json (a proxy's page, say): the text itself is the best explanation.
            }
            return $"{path} answered {(int)response.StatusCode}: {detail ?? text}";
        }
        try
        {
            return JsonSerializer.Deserialize<T>(text, Wire) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            return $"{path} answered 200 with a body that is not a {typeof(T).Name}: {e.Message}";
        }
    }

    /// <summary>The API's JSON: camelCase names, as the contract types are written.</summary>
    private static readonly JsonSerializerOptions Wire = new(JsonSerializerDefaults.Web);

    private static Outcome<ReportModel, string> FromFile(ParseResult parse, string path, int top)
    {
        if (EventLogReader.FormatFromExtension(path) is not { } format)
        {
            return $"cannot tell the format of '{path}' from its extension; use .csv, .jsonl or .ndjson";
        }
        // File mode meters like `tally meter`: the same options, checked the same way.
        var meter = Metering.Build(parse);
        if (!meter.IsOk)
        {
            return meter.Error;
        }
        var (options, packMinutes, quiet) = meter.Value;
        var pool = options.Pool;
        DateTimeOffset? asOfGiven = null;
        if (parse.GetValue(AsOf) is { } asOfText)
        {
            var parsed = ParseInstant("--as-of", asOfText);
            if (!parsed.IsOk)
            {
                return parsed.Error;
            }
            asOfGiven = parsed.Value;
        }
        Period? periodGiven = null;
        if (parse.GetValue(PeriodOption) is { } periodText)
        {
            if (!Period.TryParse(periodText, out var p))
            {
                return $"--period: '{periodText}' is not {Period.Expected}";
            }
            periodGiven = p;
        }
        var workCalendar = BuildCalendar(parse.GetValue(Holidays)!, parse.GetValue(ClosedDays), options.TimeZone);
        if (!workCalendar.IsOk)
        {
            return workCalendar.Error;
        }
        ParsedLog whole;
        try
        {
            whole = EventLogReader.ReadFile(path, format);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot read '{path}': {e.Message}";
        }
        if (whole.InvalidLines > 0)
        {
            var first = string.Join("; ", whole.Errors.Take(3));
            return $"{whole.InvalidLines} bad line(s) in {path} ({first}); check them with tally meter";
        }
        if (whole.Events.Count == 0)
        {
            return $"{path} has no events";
        }
        var asOf = asOfGiven ?? new DateTimeOffset(whole.Events.Max(e => e.TimeTicks), TimeSpan.Zero);
        // A report as of an instant sees only what had happened by then: an event at exactly that instant has, a later
        // one has not. Metering the whole file would put later units, denials and users in every figure and in the
        // forecast's history. The meter replays in time order, so the earlier events decide exactly as in the whole run.
        var log = asOfGiven is null ? whole : whole.AtOrBefore(asOf.UtcTicks);
        var result = MeterRun.Run(log, options, null, keepUnits: true, packMinutes, quiet);
        var period = periodGiven ?? new PeriodCalendar(options.TimeZone).PeriodOf(asOf);

        // The server's own figures (UsageMonitor), fed from the metered log instead of the ledger, so a file and a
        // server with the same events reach the same verdicts.
        var periodTally = result.Tally.Periods().FirstOrDefault(t => t.Period == period);
        var units = result.Tally.UnitRecords;
        var usage = new PeriodUsage(period.ToString(), periodTally?.Units ?? 0, periodTally?.ConsumedMinutes ?? 0, periodTally?.DeniedEvents ?? 0, 0);
        long? firstEventTicks = log.Events.Count == 0 ? null : log.Events.Min(e => e.TimeTicks);
        var source = new MonitorSource(usage, firstEventTicks, (from, to) => units
            .Where(u => u.StartTicks >= from && u.StartTicks < to && u.Minutes > 0)
            .GroupBy(u => u.StartTicks - (u.StartTicks % TimeSpan.TicksPerHour))
            .Select(g => new HourlyMinutes(g.Key, g.Sum(u => (long)u.Minutes)))
            .OrderBy(h => h.HourStartTicks)
            .ToList());
        var figures = UsageMonitor.Compute(source, options, pool is null ? null : MonitoredPool.Always(pool.IncludedMinutes), period, asOf, workCalendar.Value);
        var periodUnits = units.Where(u => u.Period == period).OrderBy(u => u.StartTicks).ToList();
        var runRate = figures.RunRate is { } r ? new ReportRunRate(r.ExpectedMinutes, r.DeltaMinutes, r.DeltaPercent, r.Status.ToWire()) : null;
        var topUsers = periodUnits
            .GroupBy(u => u.User)
            .Select(g => new ReportUser(log.Users.NameOf(g.Key), g.Count(), g.Sum(u => (long)u.Minutes)))
            // The order of the server's users page sorted by minutes: most first, ties by name.
            .OrderByDescending(u => u.Minutes).ThenBy(u => u.User, StringComparer.Ordinal)
            .Take(top).ToList();
        var (included, limit) = (figures.IncludedMinutes, figures.LimitMinutes);
        // The API's forecast object, so the file's numbers are rounded and named exactly as a server's; only an already
        // reached instant is replaced, by the one a file knows exactly.
        var view = UsageMonitor.ForecastView(figures);
        DateTimeOffset? Included(DateTimeOffset? at, string outcome) => Reached(at, outcome, included, periodUnits, options.UnitMinutes);
        DateTimeOffset? Limit(DateTimeOffset? at, string outcome) => Reached(at, outcome, limit, periodUnits, options.UnitMinutes);
        var range = WithRunOuts(view.Range!, Included, Limit);
        return new ReportModel(path, period.ToString(), figures.Window.Start, figures.Window.End, included, limit, usage.Minutes,
            usage.Units, usage.DeniedEvents, runRate,
            new ReportForecast(view.Method, view.AsOf, view.ProjectedMinutes,
                Included(view.IncludedRunOut, view.IncludedRunOutOutcome), view.IncludedRunOutOutcome,
                Limit(view.LimitRunOut, view.LimitRunOutOutcome), view.LimitRunOutOutcome,
                view.ProjectedDemandMinutes, range, view.Model),
            topUsers)
        {
            Waste = WasteReports.Of(result, period, top),
        };
    }

    /// <summary>The file-mode-only options given with <c>--server</c>, by name (defaults applied by the parser do not count).</summary>
    private static List<string> FileModeOnlyGiven(ParseResult parse) =>
        [.. new Option[] { AsOf, Holidays, ClosedDays }.Concat(Metering.All)
            .Where(o => parse.GetResult(o) is { Implicit: false })
            .Select(o => o.Name)];

    /// <summary>
    /// An instant given on the command line, held to the rule event times are (R12): it must state its offset
    /// (<c>Z</c> or <c>±hh:mm</c>), since a time without one is ambiguous by a whole time zone and this machine's zone
    /// is no better a guess than any other. Seconds may be left out (<c>2026-05-07T00:00Z</c>).
    /// </summary>
    internal static Outcome<DateTimeOffset, string> ParseInstant(string option, string text)
    {
        // In UTC, as a server's clock is: the same instant written with another offset makes the same report.
        if (EventValidation.ParseTime(text) is { } instant)
        {
            return instant.ToUniversalTime();
        }
        if (DateTimeOffset.TryParseExact(text, InstantWithoutSeconds, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var minutes))
        {
            return minutes.ToUniversalTime();
        }
        return DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local) && local.Kind == DateTimeKind.Unspecified
            ? $"{option}: '{text}' has no UTC offset, and a time without one could be any time zone's; add Z or ±hh:mm (e.g. {text.TrimEnd()}Z)"
            : $"{option}: '{text}' is not an ISO-8601 instant with an offset (e.g. 2026-03-01T09:00:00Z)";
    }

    /// <summary>Minute-precision instants with their offset; the event-time parser wants seconds.</summary>
    private static readonly string[] InstantWithoutSeconds = ["yyyy-MM-dd'T'HH:mm'Z'", "yyyy-MM-dd'T'HH:mmzzz"];

    /// <summary>
    /// The working calendar the forecast reads history and projects with: <c>auto</c>, the public holidays of the
    /// country whose zone <c>--timezone</c> is (none for UTC, as the server's default); <c>none</c>; or a country code;
    /// plus the <c>--closed-days</c>. What is wrong is said with the option's name.
    /// </summary>
    internal static Outcome<WorkCalendar, string> BuildCalendar(string holidays, string? closedDays, TimeZoneInfo zone)
    {
        var closures = new List<DateOnly>();
        if (closedDays is not null)
        {
            var items = closedDays.Split(',');
            for (var i = 0; i < items.Length; i++)
            {
                var item = items[i].Trim();
                if (!DateOnly.TryParseExact(item, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
                {
                    return $"--closed-days: item {i + 1}, '{item}', is not a date as YYYY-MM-DD (e.g. 2026-12-24)";
                }
                closures.Add(day);
            }
        }
        var country = WorkCalendar.CountryOf(holidays, zone);
        // Checked alone first, so a bad country is named as --holidays' fault and not --closed-days'.
        if (country is not null && WorkCalendar.Create(country.Length == 0 ? "?" : country, null) is { IsOk: false } unknown)
        {
            return $"--holidays must be auto, none or a country code: {unknown.Error}";
        }
        var made = WorkCalendar.Create(country, closures);
        return made.IsOk ? made.Value : $"--closed-days: {made.Error}";
    }

    /// <summary>
    /// A projected run-out is the forecast's instant. An already reached one is the start of the unit after which
    /// less than a unit was left under the threshold: a file has every unit, so the instant is known exactly.
    /// </summary>
    private static DateTimeOffset? Reached(DateTimeOffset? at, string outcome, long? threshold, IReadOnlyList<UnitRecord> periodUnitsInOrder, int unitMinutes)
    {
        if (outcome != RunOutOutcome.AlreadyReached.ToWire() || threshold is not { } x)
        {
            return at;
        }
        long consumed = 0;
        foreach (var unit in periodUnitsInOrder)
        {
            consumed += unit.Minutes;
            if (Forecaster.IsReached(consumed, x, unitMinutes))
            {
                return new DateTimeOffset(unit.StartTicks, TimeSpan.Zero);
            }
        }
        return null;
    }

    /// <summary>
    /// A run-out's 10–90 % range after its point, earliest (usage runs high) first; nothing when both ends are the point.
    /// </summary>
    internal static string Spread(DateTimeOffset? at, string outcome, DateTimeOffset? earliest, string earliestOutcome, DateTimeOffset? latest, string latestOutcome)
    {
        if ((earliest, earliestOutcome) == (at, outcome) && (latest, latestOutcome) == (at, outcome))
        {
            return "";
        }
        static string Short(DateTimeOffset? t, string outcome) => (outcome, t) switch
        {
            ("projected", { } x) => x.UtcDateTime.ToString("d MMM HH:mm", CultureInfo.InvariantCulture),
            ("already-reached", { } x) => "reached " + x.UtcDateTime.ToString("d MMM HH:mm", CultureInfo.InvariantCulture),
            ("already-reached", null) => "already reached",
            ("not-within-period", _) => "not within the period",
            _ => outcome,
        };
        return $" (10–90 %: {Short(earliest, earliestOutcome)} – {Short(latest, latestOutcome)})";
    }

    /// <summary>
    /// The calendar the forecast used and, when it found a working-day level, its trend and level shift: a model that
    /// read no working-day usage (or a method without a model) has no trend worth printing.
    /// </summary>
    internal static string CalendarLine(ForecastModelView model)
    {
        var calendar = (model.HolidayCountry is { } country ? $"{country} holidays" : "no public holidays")
            + (model.ClosureDays > 0 ? $" + {model.ClosureDays} closure day{(model.ClosureDays == 1 ? "" : "s")}" : "");
        var line = $"{calendar}; {model.HistoryDays} day{(model.HistoryDays == 1 ? "" : "s")} of history";
        if (model.WorkingDayMinutes > 0 || model.LevelShiftDay is not null)
        {
            var trend = model.TrendPercentPerWeek.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
            line += $"; working day ≈ {model.WorkingDayMinutes.ToString("N0", CultureInfo.InvariantCulture)} min; trend {trend} %/week";
        }
        if (model.LevelShiftDay is { } shift)
        {
            line += $"; level shift from {shift.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
        }
        return line;
    }

    private static void WriteTable(ReportModel m, IAnsiConsole console)
    {
        static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);
        static string Utc(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        static string At(DateTimeOffset? at, string outcome) => (outcome, at) switch
        {
            ("already-reached", { } t) => "already reached at " + Utc(t),
            ("already-reached", null) => "already reached",
            ("projected", { } t) => Utc(t),
            ("not-within-period", _) => "not within the period",
            ("never", _) => "never",
            _ => outcome,
        };
        var summary = new Table().AddColumn("Period " + m.Period).AddColumn(new TableColumn("").RightAligned());
        summary.AddRow("Source", Markup.Escape(m.Source));
        summary.AddRow("Consumed minutes", N(m.ConsumedMinutes));
        summary.AddRow("Included minutes", m.IncludedMinutes is { } inc ? N(inc) : "no pool");
        summary.AddRow("Limit minutes", m.LimitMinutes is { } lim ? N(lim) : m.IncludedMinutes is null ? "no pool" : "unlimited");
        summary.AddRow("Units", N(m.Units));
        summary.AddRow("Denied events", N(m.DeniedEvents));
        if (m.RunRate is { } r)
        {
            summary.AddRow("Expected by now", N(r.ExpectedMinutes));
            var exhausted = m.Forecast.LimitRunOutOutcome == RunOutOutcome.AlreadyReached.ToWire() ? "pool exhausted; " : "";
            summary.AddRow("Run-rate", $"{r.Status} ({exhausted}{(r.DeltaMinutes >= 0 ? "+" : "")}{N(r.DeltaMinutes)} min{(r.DeltaPercent is { } p ? $", {(p >= 0 ? "+" : "")}{p.ToString("0.0", CultureInfo.InvariantCulture)} %" : "")})");
        }
        var f = m.Forecast;
        var range = f.Range;
        // The range is of demand; what is printed is capped at the limit as the point is, so the point lies inside it.
        double Capped(double demand) => m.LimitMinutes is { } cap ? Math.Min(demand, cap) : demand;
        var (low, high) = (Capped(range.ProjectedDemandLowMinutes), Capped(range.ProjectedDemandHighMinutes));
        // A range of one point (a method without one, or a forecast past doubt) would only repeat the point.
        summary.AddRow("Forecast at period end", N(f.ProjectedMinutes) + (low == high ? "" : $" (10–90 %: {N(low)}–{N(high)})"));
        summary.AddRow("Included minutes run out", At(f.IncludedRunOut, f.IncludedRunOutOutcome)
            + Spread(f.IncludedRunOut, f.IncludedRunOutOutcome, range.IncludedRunOutEarliest, range.IncludedRunOutEarliestOutcome,
                range.IncludedRunOutLatest, range.IncludedRunOutLatestOutcome));
        summary.AddRow("Limit runs out", At(f.LimitRunOut, f.LimitRunOutOutcome)
            + Spread(f.LimitRunOut, f.LimitRunOutOutcome, range.LimitRunOutEarliest, range.LimitRunOutEarliestOutcome,
                range.LimitRunOutLatest, range.LimitRunOutLatestOutcome));
        if (f.Model is { } model)
        {
            summary.AddRow("Calendar", Markup.Escape(CalendarLine(model)));
        }
        console.Write(summary);
        if (m.Waste is { } waste)
        {
            // A line of its own: as a row it would wrap in an 80-column pipe.
            console.WriteLine($"{N(waste.IdleReloadMinutes)} minutes charged by scheduled reloads to idle users ({MeterReportWriter.Percent(waste.ShareOfConsumed)} of consumed)");
        }
        var users = new Table().AddColumn("Top users").AddNumberColumns("Units", "Minutes");
        foreach (var u in m.TopUsers)
        {
            users.AddRow(Markup.Escape(u.User), N(u.Units), N(u.Minutes));
        }
        console.Write(users);
    }
}
