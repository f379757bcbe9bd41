using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>Alert rules, channels and history, and the seat advisor.</summary>
public static class MonitoringEndpoints
{
    public const int MaxRulesPerTenant = 100;
    public const int MaxChannelsPerTenant = 50;
    public const int DefaultHistoryLimit = 100;
    public const int MaxHistoryLimit = 1000;

    /// <summary>Services of monitoring: alert options, senders, the evaluator (a hosted service) and the webhook client with retries.</summary>
    public static IServiceCollection AddMonitoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AlertOptions>().Bind(configuration.GetSection(AlertOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>();
        services.AddSingleton<EmailSender>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<AlertEvaluator>();
        services.AddSingleton<ICommitObserver>(sp => sp.GetRequiredService<AlertEvaluator>());
        services.AddHostedService(sp => sp.GetRequiredService<AlertEvaluator>());
        services.AddHttpClient(WebhookSender.ClientName)
            // The pipeline below bounds each attempt; HttpClient's own 100 s default would cut a send with more retries short.
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookTargets.Handler(sp.GetRequiredService<IOptions<AlertOptions>>().Value.AllowPrivateWebhookTargets))
            .AddResilienceHandler("webhook", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<AlertOptions>>().Value;
                // Backoff waits are real network waits, not the ledger's business time, so they use the system clock
                // even when the server's TimeProvider is a test's fake one.
                pipeline.TimeProvider = TimeProvider.System;
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = Math.Max(options.WebhookRetries, 1),
                    // A refused target stays refused: retrying it only spends the tenant's delivery time.
                    ShouldHandle = args => ValueTask.FromResult(options.WebhookRetries > 0
                        && !IsRefused(args.Outcome.Exception) && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
                    Delay = options.WebhookRetryDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                });
                pipeline.AddTimeout(options.WebhookAttemptTimeout);
            });
        return services;
    }

    private static bool IsRefused(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is WebhookRefusedException)
            {
                return true;
            }
        }
        return false;
    }

    public static RouteGroupBuilder MapMonitoring(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1").WithTags("Monitoring").ProducesProblem(401).ProducesProblem(403);
        group.MapGet("/advice/seats", SeatAdvice).RequireRole(ApiRole.Read, ApiRole.Admin)
            .WithSummary("Seat advisor: who is cheaper on a named Analyzer seat, who on capacity (?seatPrice&packPrice[&currency&packMinutes&period&months]).").ProducesCsv();

        group.MapPost("/alerts/channels", CreateChannel).RequireRole(ApiRole.Admin).Accepts<CreateChannelRequest>("application/json")
            .WithSummary("Create an e-mail or webhook channel (the webhook secret is shown once).");
        group.MapGet("/alerts/channels", (HttpContext http, IAlertStore store) =>
            TypedResults.Ok(store.AlertChannels(http.Tenant()).Select(ChannelView).ToList())).RequireRole(ApiRole.Admin);
        group.MapDelete("/alerts/channels/{id}", Results<NoContent, ProblemHttpResult> (string id, HttpContext http, IAlertStore store) =>
        {
            if (store.AlertRules(http.Tenant()).FirstOrDefault(r => r.ChannelIds.Contains(id)) is { } rule)
            {
                return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"Channel '{id}' is used by rule '{rule.Id}'; delete or change the rule first.");
            }
            return store.DeleteAlertChannel(http.Tenant(), id) ? TypedResults.NoContent() : Problems.NotFound($"No alert channel '{id}'.");
        }).RequireRole(ApiRole.Admin);

        group.MapPost("/alerts/rules", CreateRule).RequireRole(ApiRole.Admin).Accepts<CreateRuleRequest>("application/json")
            .WithSummary("Create an alert rule.");
        group.MapGet("/alerts/rules", (HttpContext http, IAlertStore store) =>
            TypedResults.Ok(store.AlertRules(http.Tenant()).Select(RuleView).ToList())).RequireRole(ApiRole.Admin);
        group.MapDelete("/alerts/rules/{id}", Results<NoContent, ProblemHttpResult> (string id, HttpContext http, IAlertStore store) =>
            store.DeleteAlertRule(http.Tenant(), id) ? TypedResults.NoContent() : Problems.NotFound($"No alert rule '{id}'.")).RequireRole(ApiRole.Admin);

        group.MapGet("/alerts/history", Results<Ok<AlertHistoryPage>, ContentHttpResult, ProblemHttpResult> (HttpContext http, int? limit, long? before, IAlertStore store) =>
        {
            var size = limit ?? DefaultHistoryLimit;
            if (size is < 1 or > MaxHistoryLimit)
            {
                return Problems.BadRequest($"limit: must be between 1 and {MaxHistoryLimit}.");
            }
            if (before is < 0)
            {
                return Problems.BadRequest("before: must not be negative.");
            }
            var rows = store.AlertHistory(http.Tenant(), before ?? 0, size);
            var alerts = rows.Select(h => new AlertHistoryEntry(h.Id, h.RuleId, h.RuleKind, h.Period, h.Subject.Length == 0 ? null : h.Subject, h.FiredAt,
                h.ChannelId, h.ChannelKind, h.Status, h.Message, h.Detail)).ToList();
            var next = rows.Count == size ? $"/api/v1/alerts/history?limit={size}&before={rows[^1].Id}" : null;
            return Csv.Report(http, new AlertHistoryPage(alerts, next), "alert-history");
        }).RequireRole(ApiRole.Read, ApiRole.Admin).WithSummary("Every alert sent (or attempted), newest first.").ProducesCsv();
        return group;
    }

    private static async Task<Results<Ok<SeatAdviceView>, ContentHttpResult, ProblemHttpResult>> SeatAdvice(HttpContext http, string? seatPrice, string? packPrice, string? packMinutes, string? period, string? months,
        string? currency, Tenants tenants, IUsageReports store, TimeProvider time)
    {
        var writer = tenants.Writer(http.Tenant());
        var config = writer.Snapshot.Config;
        if (seatPrice is null || packPrice is null)
        {
            return Problems.BadRequest("seatPrice and packPrice are required: the monthly price of a named Analyzer seat and of one capacity pack.");
        }
        // Parsed here rather than bound, so a value that is not a number (or overflows a decimal) is a 400 naming it.
        if (!TryNumber(seatPrice, out decimal seat))
        {
            return BadParameter("seatPrice", seatPrice);
        }
        if (!TryNumber(packPrice, out decimal pack))
        {
            return BadParameter("packPrice", packPrice);
        }
        long? size = null;
        if (packMinutes is not null)
        {
            if (!TryNumber(packMinutes, out long given))
            {
                return BadParameter("packMinutes", packMinutes);
            }
            size = given;
        }
        var prices = new SeatPrices(seat, pack, size ?? config.License?.PackMinutes ?? MeterOptions.DefaultPackMinutes);
        if (prices.Validate() is { } invalid)
        {
            return Problems.BadRequest(invalid + ".", new Dictionary<string, object?> { ["field"] = invalid[..invalid.IndexOf(':', StringComparison.Ordinal)] });
        }
        // Tally has no prices of its own: the caller's prices are in the caller's currency, named so the answer can say it.
        if (currency is not null && !(currency.Length == 3 && currency.All(char.IsAsciiLetter)))
        {
            return Problems.BadRequest("currency: three letters, an ISO 4217 code such as EUR or USD.", new Dictionary<string, object?> { ["field"] = "currency" });
        }
        var count = 1;
        if (months is not null && !(TryNumber(months, out count) && count is >= 1 and <= 12))
        {
            return Problems.BadRequest("months: must be between 1 and 12.", new Dictionary<string, object?> { ["field"] = "months" });
        }
        var read = ReportEndpoints.ReadPeriod(period, new PeriodCalendar(config.MeterOptions.TimeZone), time.GetUtcNow());
        if (!read.IsOk)
        {
            return read.Error;
        }
        var (last, calendar) = read.Value;
        if (last.Index - (count - 1) < Period.MinValue.Index)
        {
            return Problems.BadRequest($"period: {count} months ending with {last} reach back before {Period.MinValue}, the first period.",
                new Dictionary<string, object?> { ["field"] = "period" });
        }
        // Every unit is U minutes (R1) whatever the allocation; named users' units carry 0 pool minutes, so count units.
        // An observed seat holder's record may say the minutes its source measured (R13): then those, if more.
        var unitMinutes = config.MeterOptions.UnitMinutes;
        // An observing tenant's seats are assigned in its source: who holds one now is what its last pull read.
        var heldSeats = writer.Observing ? writer.ObservedSeats.ToDictionary(s => s.User, s => s.Seat, StringComparer.Ordinal) : null;
        var minutes = new Dictionary<string, long>(StringComparer.Ordinal);
        var allocation = new Dictionary<string, Allocation>(StringComparer.Ordinal);
        var periods = new List<string>();
        for (var i = count - 1; i >= 0; i--)
        {
            var p = Period.FromIndex(last.Index - i);
            periods.Add(p.ToString());
            // Every user of the month from the rollups (the users page's query without a page limit), not a scan of its units.
            var everyUser = await store.UsersPageAsync(http.Tenant(),
                new PageQuery<UserSort>(p.ToString(), UserSort.User, false, null, int.MaxValue, 0), http.RequestAborted);
            foreach (var u in everyUser.Rows)
            {
                minutes[u.User] = minutes.GetValueOrDefault(u.User) + Math.Max(u.Units * unitMinutes, u.Minutes);
                if (heldSeats is not null && heldSeats.TryGetValue(u.User, out var sourceSeat))
                {
                    allocation[u.User] = sourceSeat;
                }
                else if (AllocationNames.FromAllotment(u.Allotment) is { } held)
                {
                    allocation[u.User] = held;
                }
            }
        }
        var users = minutes.Where(m => allocation.ContainsKey(m.Key))
            .Select(m => new UserMonthlyMinutes(m.Key, allocation[m.Key], m.Value / count));
        var advice = SeatAdvisor.Advise(prices, users);
        static SeatRecommendationView Row(SeatRecommendation r) =>
            new(r.User, r.From.ToWire(), r.To.ToWire(), r.Minutes, r.CapacityCost, r.SeatCost, r.MonthlySaving);
        return Csv.Report(http, new SeatAdviceView(
            [.. advice.ToAnalyzerSeat.Concat(advice.ToCapacity).Select(Row)], periods, currency?.ToUpperInvariant(),
            prices.AnalyzerSeatPerMonth, prices.CapacityPackPerMonth, prices.PackMinutes, prices.PricePerMinute, advice.BreakEvenMinutes,
            [.. advice.ToAnalyzerSeat.Select(Row)], [.. advice.ToCapacity.Select(Row)], advice.TotalMonthlySaving), "seat-advice");
    }

    /// <summary>A decimal (exponent allowed, no thousands separators) or a whole number, in the invariant culture.</summary>
    private static bool TryNumber<T>(string text, out T value) where T : struct, System.Numerics.INumber<T> =>
        T.TryParse(text, typeof(T) == typeof(decimal) ? System.Globalization.NumberStyles.Float : System.Globalization.NumberStyles.Integer,
            System.Globalization.CultureInfo.InvariantCulture, out value);

    private static ProblemHttpResult BadParameter(string field, string text) =>
        Problems.BadRequest($"{field}: '{(text.Length > 40 ? text[..40] : text)}' is not a number (or is too large).", new Dictionary<string, object?> { ["field"] = field });


    private static async Task<Results<Created<CreatedAlertChannel>, ProblemHttpResult>> CreateChannel(HttpContext http, IAlertStore store, TimeProvider time,
        IOptions<TallyOptions> options, IOptions<AlertOptions> alerts)
    {
        var read = await JsonBody.ReadAsync<CreateChannelRequest>(http, Math.Min(options.Value.MaxBodyBytes, 64 * 1024));
        if (!read.IsOk)
        {
            return read.Error;
        }
        var body = read.Value;
        var tenant = http.Tenant();
        var name = string.IsNullOrWhiteSpace(body.Name) ? body.Kind ?? "" : body.Name.Trim();
        if (name.Length > 200)
        {
            return Problems.BadRequest("name: at most 200 characters.");
        }
        if ((Problems.BadText("name", name) ?? Problems.BadText("to", body.To) ?? Problems.BadText("url", body.Url) ?? Problems.BadText("secret", body.Secret)) is { } badText)
        {
            return badText;
        }
        string target;
        string? secret = null;
        switch (body.Kind)
        {
            case "email":
                var addresses = (body.To ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (addresses.Length is 0 or > 20 || addresses.Any(a => a.Length > 254 || !MimeKit.MailboxAddress.TryParse(a, out var m) || !m.Address.Contains('@', StringComparison.Ordinal)))
                {
                    return Problems.BadRequest("to: one to twenty e-mail addresses, separated by commas.");
                }
                target = string.Join(", ", addresses);
                break;
            case "webhook":
                if (body.Url is not { Length: <= 2000 } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    return Problems.BadRequest("url: an absolute http or https URL.");
                }
                // Early and plain answer for an address written in the URL; names are judged where it counts, on the
                // address they resolve to when a delivery connects (WebhookTargets.ConnectAsync).
                if (!alerts.Value.AllowPrivateWebhookTargets && WebhookTargets.LiteralAddress(uri) is { } literal && !WebhookTargets.IsPublic(literal))
                {
                    return Problems.BadRequest("url: the host is not a public address (loopback, private, link-local, multicast and reserved addresses are refused).");
                }
                if (body.Secret is { } given && given.Length is < 16 or > 256)
                {
                    return Problems.BadRequest("secret: 16 to 256 characters (or leave it out and the server makes one).");
                }
                target = uri.ToString();
                secret = body.Secret ?? "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
                break;
            default:
                return Problems.BadRequest("kind: must be email or webhook.");
        }
        var channel = new AlertChannelRecord("ch_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), tenant, body.Kind, name, target, secret, time.GetUtcNow());
        // The store counts and inserts in one step: a count here first would let racing creates pass the limit.
        if (!store.TryAddAlertChannel(channel, MaxChannelsPerTenant))
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"A tenant has at most {MaxChannelsPerTenant} alert channels.");
        }
        // The only answer that carries the whole secret: the receiver needs it to verify signatures.
        return TypedResults.Created($"/api/v1/alerts/channels/{channel.Id}",
            new CreatedAlertChannel(channel.Id, channel.Name, channel.Kind, channel.Target, secret, Hint(secret), channel.Created));
    }

    private static async Task<Results<Created<AlertRule>, ProblemHttpResult>> CreateRule(HttpContext http, IAlertStore store, TimeProvider time, IOptions<TallyOptions> options)
    {
        var read = await JsonBody.ReadAsync<CreateRuleRequest>(http, Math.Min(options.Value.MaxBodyBytes, 64 * 1024));
        if (!read.IsOk)
        {
            return read.Error;
        }
        var body = read.Value;
        var tenant = http.Tenant();
        if (body.Kind is not { } kind || !AlertKinds.All.Contains(kind))
        {
            return Problems.BadRequest($"kind: must be one of {string.Join(", ", AlertKinds.All)}.");
        }
        if (AlertKinds.NeedsValue(kind))
        {
            if (body.Value is not { } v || !double.IsFinite(v) || v <= 0 || v > 1e12)
            {
                return Problems.BadRequest($"value: a positive number is required for {kind} (percent for threshold-percent, above-run-rate and idle-reload-percent, hours for source-failing, minutes otherwise).");
            }
        }
        else if (body.Value is not null)
        {
            return Problems.BadRequest($"value: {kind} takes no value.");
        }
        if (body.Bound is { } bound)
        {
            if (kind != AlertKinds.ForecastRunOut)
            {
                return Problems.BadRequest($"bound: only {AlertKinds.ForecastRunOut} takes a bound; {kind} does not fire on a forecast.",
                    new Dictionary<string, object?> { ["field"] = "bound" });
            }
            if (!AlertKinds.Bounds.Contains(bound))
            {
                return Problems.BadRequest($"bound: must be one of {string.Join(", ", AlertKinds.Bounds)}.", new Dictionary<string, object?> { ["field"] = "bound" });
            }
        }
        var channelIds = (body.Channels ?? []).Distinct(StringComparer.Ordinal).ToList();
        var known = store.AlertChannels(tenant).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        if (channelIds.Count == 0 || channelIds.FirstOrDefault(c => c is null || !known.Contains(c)) is { } unknown || channelIds.Contains(null!))
        {
            return Problems.BadRequest(channelIds.Count == 0 ? "channels: name at least one channel id." : "channels: every id must be one of this tenant's channels.");
        }
        var name = string.IsNullOrWhiteSpace(body.Name) ? kind : body.Name.Trim();
        if (name.Length > 200)
        {
            return Problems.BadRequest("name: at most 200 characters.");
        }
        if (Problems.BadText("name", name) is { } badName)
        {
            return badName;
        }
        var rule = new AlertRuleRecord("rule_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), tenant, name, kind, body.Value, channelIds, time.GetUtcNow(), body.Bound);
        if (!store.TryAddAlertRule(rule, MaxRulesPerTenant))
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict", $"A tenant has at most {MaxRulesPerTenant} alert rules.");
        }
        return TypedResults.Created($"/api/v1/alerts/rules/{rule.Id}", RuleView(rule));
    }

    private static AlertRule RuleView(AlertRuleRecord r) => new(r.Id, r.Name, r.Kind, r.Value, r.ChannelIds, r.Created, AlertKinds.BoundOf(r));

    private static AlertChannel ChannelView(AlertChannelRecord c) => new(c.Id, c.Name, c.Kind, c.Target, Hint(c.Secret), c.Created);

    /// <summary>Enough of a secret to tell two apart, never enough to forge a signature.</summary>
    private static string? Hint(string? secret) => secret is null ? null : "…" + secret[^4..];
}
