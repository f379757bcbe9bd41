using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server;

/// <summary><c>POST /api/v1/events</c> (a batch) and <c>POST /api/v1/access</c> (one event, allow or deny).</summary>
public static class EventEndpoints
{
    /// <summary>R10: a client timestamp further ahead of the server clock than this is refused.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    public static RouteGroupBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1").RequireRole(ApiRole.Ingest).WithTags("Events").ProducesProblem(401).ProducesProblem(403);
        group.MapPost("/events", async Task<Results<Ok<List<EventResult>>, ProblemHttpResult>> (HttpContext http, Tenants tenants, TimeProvider time, IOptions<TallyOptions> options) =>
        {
            var read = await JsonBody.ReadAsync<List<EventDto?>>(http, options.Value.MaxBodyBytes);
            if (!read.IsOk)
            {
                return read.Error;
            }
            var events = read.Value;
            if (events.Count == 0)
            {
                return Problems.BadRequest("The batch is empty; send a JSON array of 1 or more events.");
            }
            if (events.Count > options.Value.MaxBatchEvents)
            {
                return Problems.Status(StatusCodes.Status413PayloadTooLarge, "Payload too large",
                    $"The batch has {events.Count} events; at most {options.Value.MaxBatchEvents} are accepted per request.");
            }
            var incoming = Validate(events, time.GetUtcNow());
            if (!incoming.IsOk)
            {
                return incoming.Error;
            }
            var outcomes = await Submit(tenants.Writer(http.Tenant()), incoming.Value);
            return outcomes.IsOk ? TypedResults.Ok(outcomes.Value.Select((o, i) => ToWire(incoming.Value[i], o)).ToList()) : outcomes.Error;
        }).Accepts<EventDto[]>("application/json").ProducesProblem(400).ProducesProblem(413).ProducesProblem(503)
            .WithSummary("Meter a batch of events; one result per event, in order.");
        group.MapPost("/access", async Task<Results<Ok<AccessResult>, ProblemHttpResult>> (HttpContext http, Tenants tenants, TimeProvider time, IOptions<TallyOptions> options) =>
        {
            var read = await JsonBody.ReadAsync<EventDto>(http, options.Value.MaxBodyBytes);
            if (!read.IsOk)
            {
                return read.Error;
            }
            var incoming = Validate([read.Value], time.GetUtcNow());
            if (!incoming.IsOk)
            {
                return incoming.Error;
            }
            var outcomes = await Submit(tenants.Writer(http.Tenant()), incoming.Value);
            return outcomes.IsOk ? TypedResults.Ok(AccessResult.From(ToWire(incoming.Value[0], outcomes.Value[0]))) : outcomes.Error;
        }).Accepts<EventDto>("application/json").ProducesProblem(400).ProducesProblem(503)
            .WithSummary("Decide one event now: allowed or denied, and why.");
        return group;
    }

    /// <summary>
    /// The tenant's writer decides and commits the events; a ledger that cannot take the commit is a 503. A tenant that
    /// observes a source takes none (R13: another license service decides its usage): 409.
    /// </summary>
    private static async Task<Outcome<IReadOnlyList<EventOutcome>, ProblemHttpResult>> Submit(TenantWriter writer, IReadOnlyList<IncomingEvent> incoming)
    {
        if (writer.Observing)
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Observing tenant",
                "This tenant observes a source of usage (see /api/v1/sources): another license service decides its usage, so it meters no events.");
        }
        try
        {
            return Outcome<IReadOnlyList<EventOutcome>, ProblemHttpResult>.Ok(await writer.SubmitAsync(incoming));
        }
        catch (LedgerUnavailableException e)
        {
            return Problems.Status(StatusCodes.Status503ServiceUnavailable, "Ledger unavailable", e.Message);
        }
    }

    /// <summary>Validates every event (R12) with the core's rules; the first bad one rejects the whole batch.</summary>
    internal static Outcome<List<IncomingEvent>, ProblemHttpResult> Validate(IReadOnlyList<EventDto?> events, DateTimeOffset now)
    {
        var incoming = new List<IncomingEvent>(events.Count);
        // Scratch tables: the tenant's own tables belong to its writer thread.
        SymbolTable users = new(), devices = new(), apps = new();
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i] is not { } e)
            {
                return Problems.BadRequest($"events[{i}] is null; send an object", new Dictionary<string, object?> { ["index"] = i });
            }
            var fields = new EventFields(e.Time, e.User, e.Device, e.App, e.Action, e.Id);
            var parsed = EventValidation.Validate(fields, false, users, devices, apps);
            if (!parsed.IsOk)
            {
                return Problems.BadEvent(i, parsed.Error.Field, parsed.Error.Reason);
            }
            // An event without a time has time 0 here: the server stamps it, so it is never ahead.
            if (parsed.Value.Time > now + MaxClockSkew)
            {
                return Problems.BadEvent(i, "time", $"is more than {MaxClockSkew.TotalMinutes:0} minutes ahead of the server clock ({now.UtcDateTime:O})");
            }
            incoming.Add(new IncomingEvent(parsed.Value.Id, e.User ?? "", e.Device ?? "", e.App ?? "", parsed.Value.Action, e.Time));
        }
        return incoming;
    }

    internal static EventResult ToWire(IncomingEvent e, EventOutcome o)
    {
        var time = Instant(o.TimeTicks)!.Value;
        if (e.Action != MeterAction.ScheduledReload)
        {
            var d = o.Decisions[0];
            return new EventResult(e.Id, d.Kind.ToWire(), d.Reason.ToWire(), Instant(d.UnitStartTicks), Instant(d.UnitEndTicks), Instant(d.RetryAfterTicks), d.Minutes, time, null);
        }
        // A reload has one decision per key it touched (R5): summarised, with the detail alongside.
        var details = o.Decisions.Select(d => new KeyResult(d.User, d.Kind.ToWire(), d.Reason.ToWire(), Instant(d.UnitEndTicks), Instant(d.RetryAfterTicks), d.Minutes)).ToList();
        var kind = o.Decisions.Count == 0 ? "free"
            : o.Decisions.Any(d => d.Kind == DecisionKind.Charged) ? "charged"
            : o.Decisions[0].Kind == DecisionKind.Duplicate ? "duplicate"
            : o.Decisions.All(d => d.Kind == DecisionKind.Denied) ? "denied"
            : "covered";
        var denied = o.Decisions.FirstOrDefault(d => d.Kind == DecisionKind.Denied);
        return new EventResult(e.Id, kind, kind == "denied" ? denied?.Reason.ToWire() : null, null, null,
            kind == "denied" ? Instant(denied?.RetryAfterTicks ?? 0) : null, o.Decisions.Sum(d => d.Minutes), time, details);
    }

    private static DateTimeOffset? Instant(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
}

