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
    private static readonly Option<string?> AsOf = new("--as-of") { Description = "File mode: the instant the report is made at (ISO-8601); default: the last event's time." };
    private static readonly MeterOptionSet Metering = new();
    private static readonly Option<int> Top = new("--top") { Description = "Top users to list.", DefaultValueFactory = _ => 10 };
    private static readonly Option<string> Format = new("--format") { Description = "table or json.", DefaultValueFactory = _ => "table" };

    public static Command Create()
    {
        var command = new Command("report", "Print a tenant's period summary, run-rate, forecast and top users, from a server or an event log.")
        {
            FileArgument, Server, Key, PeriodOption, AsOf, Top, Format,
        };
        Metering.AddTo(command);
        command.SetAction((parse, cancel) => RunAsync(parse, cancel));
        return command;
    }

    /// <summary>What the report prints, whichever the source.</summary>
    internal sealed record ReportModel(
        string Source, string Period, DateTimeOffset Start, DateTimeOffset End, long? IncludedMinutes, long? LimitMinutes, long ConsumedMinutes,
        long Units, long DeniedEvents, ReportRunRate? RunRate, ReportForecast Forecast, IReadOnlyList<ReportUser> TopUsers);

    internal sealed record ReportRunRate(double ExpectedMinutes, double DeltaMinutes, double? DeltaPercent, string Status);

    /// <summary>
    /// Run-outs: the outcome as the API names it, and the instant when projected, or when already reached and known
    /// (from a file: the unit that used the last whole unit's room; a server's API does not say, so null).
    /// </summary>
    internal sealed record ReportForecast(string Method, DateTimeOffset AsOf, double ProjectedMinutes, DateTimeOffset? IncludedRunOut, string IncludedRunOutOutcome,
        DateTimeOffset? LimitRunOut, string LimitRunOutOutcome);

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
            var forecast = new ReportForecast(f.Method, f.AsOf, f.ProjectedMinutes,
                ServerRunOut(f.IncludedRunOut, f.IncludedRunOutOutcome), f.IncludedRunOutOutcome,
                ServerRunOut(f.LimitRunOut, f.LimitRunOutOutcome), f.LimitRunOutOutcome);
            var topUsers = users.Value.Users.Select(u => new ReportUser(u.User, u.Units, u.Minutes)).ToList();
            return new ReportModel(baseUri.ToString(), s.Period, s.Start, s.End, s.IncludedMinutes, s.LimitMinutes,
                s.ConsumedMinutes, s.Units, s.DeniedEvents, runRate, forecast, topUsers);
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
        var (options, packMinutes) = meter.Value;
        var pool = options.Pool;
        ParsedLog log;
        try
        {
            log = EventLogReader.ReadFile(path, format);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot read '{path}': {e.Message}";
        }
        if (log.InvalidLines > 0)
        {
            var first = string.Join("; ", log.Errors.Take(3));
            return $"{log.InvalidLines} bad line(s) in {path} ({first}); check them with tally meter";
        }
        if (log.Events.Count == 0)
        {
            return $"{path} has no events";
        }
        var result = MeterRun.Run(log, options, null, keepUnits: true, packMinutes);
        var calendar = new PeriodCalendar(options.TimeZone);
        var lastTicks = log.Events.Max(e => e.TimeTicks);
        DateTimeOffset asOf = new(lastTicks, TimeSpan.Zero);
        if (parse.GetValue(AsOf) is { } asOfText)
        {
            if (!DateTimeOffset.TryParse(asOfText, CultureInfo.InvariantCulture, DateTimeStyles.None, out asOf))
            {
                return $"--as-of: '{asOfText}' is not an ISO-8601 instant";
            }
        }
        Period period;
        if (parse.GetValue(PeriodOption) is { } periodText)
        {
            if (!Period.TryParse(periodText, out period))
            {
                return $"--period: '{periodText}' is not {Period.Expected}";
            }
        }
        else
        {
            period = calendar.PeriodOf(asOf);
        }

        // The server's own figures (UsageMonitor), fed from the metered log instead of the ledger, so a file and a
        // server with the same events reach the same verdicts.
        var periodTally = result.Tally.Periods().FirstOrDefault(t => t.Period == period);
        var units = result.Tally.UnitRecords;
        var usage = new PeriodUsage(period.ToString(), periodTally?.Units ?? 0, periodTally?.ConsumedMinutes ?? 0, periodTally?.DeniedEvents ?? 0, 0);
        var source = new MonitorSource(usage, log.Events.Min(e => e.TimeTicks), (from, to) => units
            .Where(u => u.StartTicks >= from && u.StartTicks < to && u.Minutes > 0)
            .GroupBy(u => u.StartTicks - (u.StartTicks % TimeSpan.TicksPerHour))
            .Select(g => new HourlyMinutes(g.Key, g.Sum(u => (long)u.Minutes)))
            .OrderBy(h => h.HourStartTicks)
            .ToList());
        var figures = UsageMonitor.Compute(source, options, pool is null ? null : MonitoredPool.Always(pool.IncludedMinutes), period, asOf);
        var periodUnits = units.Where(u => u.Period == period).OrderBy(u => u.StartTicks).ToList();
        var f = figures.Forecast;
        var runRate = figures.RunRate is { } r ? new ReportRunRate(r.ExpectedMinutes, r.DeltaMinutes, r.DeltaPercent, r.Status.ToWire()) : null;
        var topUsers = periodUnits
            .GroupBy(u => u.User)
            .Select(g => new ReportUser(log.Users.NameOf(g.Key), g.Count(), g.Sum(u => (long)u.Minutes)))
            // The order of the server's users page sorted by minutes: most first, ties by name.
            .OrderByDescending(u => u.Minutes).ThenBy(u => u.User, StringComparer.Ordinal)
            .Take(top).ToList();
        var (included, limit) = (figures.IncludedMinutes, figures.LimitMinutes);
        return new ReportModel(path, period.ToString(), figures.Window.Start, figures.Window.End, included, limit, usage.Minutes,
            usage.Units, usage.DeniedEvents, runRate,
            new ReportForecast(f.Method.ToWire(), figures.Now, f.ProjectedMinutes,
                RunOutAt(f.IncludedRunOut, included, periodUnits, options.UnitMinutes), f.IncludedRunOut.Outcome.ToWire(),
                RunOutAt(f.LimitRunOut, limit, periodUnits, options.UnitMinutes), f.LimitRunOut.Outcome.ToWire()),
            topUsers);
    }

    /// <summary>
    /// A projected run-out is the forecast's instant. An already reached one is the start of the unit after which
    /// less than a unit was left under the threshold: a file has every unit, so the instant is known exactly.
    /// </summary>
    private static DateTimeOffset? RunOutAt(RunOut runOut, long? threshold, IReadOnlyList<UnitRecord> periodUnitsInOrder, int unitMinutes)
    {
        if (runOut.Outcome != RunOutOutcome.AlreadyReached || threshold is not { } x)
        {
            return runOut.At;
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
        summary.AddRow("Forecast at period end", N(m.Forecast.ProjectedMinutes));
        summary.AddRow("Included minutes run out", At(m.Forecast.IncludedRunOut, m.Forecast.IncludedRunOutOutcome));
        summary.AddRow("Limit runs out", At(m.Forecast.LimitRunOut, m.Forecast.LimitRunOutOutcome));
        console.Write(summary);
        var users = new Table().AddColumn("Top users").AddNumberColumns("Units", "Minutes");
        foreach (var u in m.TopUsers)
        {
            users.AddRow(Markup.Escape(u.User), N(u.Units), N(u.Minutes));
        }
        console.Write(users);
    }
}
