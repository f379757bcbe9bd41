using Tally.Metering;

namespace Tally.Server.Qlik;

/// <summary>
/// The seats of one tenant while an assignments action is worked through: who holds which seat, how many of each the
/// license grants, and the allocation plan those seats are written into. Items apply one after another, each seeing
/// the ones before it; the plan is saved once at the end (or not at all when nothing changed).
/// </summary>
public sealed class AssignmentBook
{
    private readonly Dictionary<string, (Allocation Seat, bool Explicit)> _holders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UserPlanDto> _rows = new(StringComparer.Ordinal);
    // Plan rows keep their order; a row removed and added again keeps its first place (and appears once).
    private readonly List<string> _order = [];
    private readonly HashSet<string> _ordered = new(StringComparer.Ordinal);
    private readonly SeatLicense _licensed;
    private readonly Dictionary<Allocation, int> _held = new() { [Allocation.Professional] = 0, [Allocation.Analyzer] = 0 };

    public AssignmentBook(AllocationPlanDto plan, (IReadOnlyList<SeatAssignment> Seats, SeatLicense Licensed) seats)
    {
        Original = plan;
        _licensed = seats.Licensed;
        foreach (var seat in seats.Seats)
        {
            _holders[seat.User] = (seat.Seat, seat.Explicit);
            _held[seat.Seat]++;
        }
        foreach (var row in plan.Users)
        {
            if (_rows.TryAdd(row.User, row))
            {
                _order.Add(row.User);
                _ordered.Add(row.User);
            }
        }
    }

    public AllocationPlanDto Original { get; }

    public bool Changed { get; private set; }

    public AllocationPlanDto Plan => Original with { Users = [.. _order.Where(_rows.ContainsKey).Select(u => _rows[u])] };

    public (Allocation Seat, bool Explicit)? Holder(string user) => _holders.TryGetValue(user, out var h) ? h : null;

    /// <summary>Whether one more <paramref name="seat"/> fits the license, counting explicit and auto-assigned holders alike.</summary>
    public bool HasFree(Allocation seat) =>
        _held[seat] < (seat == Allocation.Professional ? _licensed.ProfessionalSeats : _licensed.AnalyzerSeats);

    /// <summary>Gives <paramref name="user"/> a seat in the plan, keeping their groups (a cap applies to capacity users only, so it goes).</summary>
    public void Assign(string user, Allocation seat)
    {
        var row = _rows.TryGetValue(user, out var existing) ? existing : null;
        Put(user, (row ?? new UserPlanDto(user, null, null, null)) with { Allocation = seat.ToWire(), CapMinutes = null });
        _holders[user] = (seat, true);
        _held[seat]++;
    }

    /// <summary>
    /// Takes <paramref name="user"/>'s seat away. An explicit seat's row loses its allocation (and goes when nothing else
    /// is left on it); an auto-assigned seat is replaced by an explicit capacity allocation, or auto-assignment would
    /// hand the same seat straight back.
    /// </summary>
    public void Release(string user)
    {
        if (!_holders.Remove(user, out var held))
        {
            return;
        }
        _held[held.Seat]--;
        if (held.Explicit)
        {
            var row = _rows[user] with { Allocation = null };
            if (row.Groups is not { Count: > 0 } && row.CapMinutes is null)
            {
                _rows.Remove(user);
                Changed = true;
                return;
            }
            Put(user, row);
            return;
        }
        var current = _rows.TryGetValue(user, out var existing) ? existing : new UserPlanDto(user, null, null, null);
        Put(user, current with { Allocation = Allocation.Capacity.ToWire() });
    }

    private void Put(string user, UserPlanDto row)
    {
        if (_ordered.Add(user))
        {
            _order.Add(user);
        }
        _rows[user] = row;
        Changed = true;
    }
}

/// <summary>Qlik's add, update and delete of assignments, one item at a time, with Qlik's per-item statuses and codes.</summary>
public static class AssignmentActions
{
    public const string NoAllotmentTitle = "No available allotment error, No available allotment.";
    public const string NotFoundTitle = "Assignment not found.";

    public static QlikItemResult Add(AssignmentBook book, QlikAssignmentItem item)
    {
        var subject = item.Subject!;
        if (Invalid(subject, item.Type, out var seat) is { } bad)
        {
            return bad with { Subject = subject, Type = item.Type };
        }
        if (book.Holder(subject) is { } held)
        {
            return new QlikItemResult(409, subject, item.Type, QlikCodes.AssignmentExists, $"Assignment already exists: '{subject}' holds a {held.Seat.ToWire()} seat.");
        }
        if (!book.HasFree(seat))
        {
            return new QlikItemResult(403, subject, item.Type, QlikCodes.NoAvailableAllotment, NoAllotmentTitle);
        }
        book.Assign(subject, seat);
        return new QlikItemResult(201, subject, item.Type);
    }

    public static QlikItemResult Delete(AssignmentBook book, QlikAssignmentItem item)
    {
        var subject = item.Subject!;
        if (Invalid(subject, item.Type, out var seat) is { } bad)
        {
            return bad with { Subject = subject, Type = item.Type };
        }
        if (book.Holder(subject) is not { } held || held.Seat != seat)
        {
            return new QlikItemResult(404, subject, item.Type, QlikCodes.AssignmentNotFound, NotFoundTitle);
        }
        book.Release(subject);
        return new QlikItemResult(200, subject, item.Type);
    }

    public static QlikItemResult Update(AssignmentBook book, QlikAssignmentItem item)
    {
        var subject = item.Subject!;
        var source = string.IsNullOrEmpty(item.SourceSubject) ? subject : item.SourceSubject;
        QlikItemResult Echo(int status, string? code = null, string? title = null, string? type = null) =>
            new(status, subject, type ?? item.Type, code, title, item.SourceSubject, item.SourceType);
        Allocation? sourceSeat = null;
        if (item.SourceType is not null)
        {
            if (Invalid(source, item.SourceType, out var s) is { } bad)
            {
                return Echo(bad.Status, bad.Code, bad.Title);
            }
            sourceSeat = s;
        }
        if (book.Holder(source) is not { } held || (sourceSeat is { } expected && held.Seat != expected))
        {
            return Echo(404, QlikCodes.AssignmentNotFound, NotFoundTitle);
        }
        var target = held.Seat;
        if (item.Type is not null)
        {
            if (Invalid(subject, item.Type, out var t) is { } bad)
            {
                return Echo(bad.Status, bad.Code, bad.Title);
            }
            target = t;
        }
        var moves = source != subject;
        if (moves && book.Holder(subject) is { } other)
        {
            return Echo(409, QlikCodes.AssignmentExists, $"Assignment already exists: '{subject}' holds a {other.Seat.ToWire()} seat.");
        }
        // A seat of another type must be free; the one given up is of the old type, so it does not count.
        if (target != held.Seat && !book.HasFree(target))
        {
            return Echo(403, QlikCodes.NoAvailableAllotment, NoAllotmentTitle);
        }
        book.Release(source);
        book.Assign(subject, target);
        return Echo(moves ? 201 : 200, type: target.ToWire());
    }

    /// <summary>A 400 item for a type other than professional or analyzer, or a subject no seat can be given to; else null.</summary>
    private static QlikItemResult? Invalid(string subject, string? type, out Allocation seat)
    {
        seat = AllocationNames.FromWire(type);
        if (!seat.IsSeat())
        {
            return new QlikItemResult(400, subject, type, QlikCodes.BadAssignment, $"Unknown allotment type '{type}': use professional or analyzer.");
        }
        if (subject.Length > EventValidation.MaxFieldLength)
        {
            return new QlikItemResult(400, subject, type, QlikCodes.BadAssignment, $"The subject is {subject.Length} characters; at most {EventValidation.MaxFieldLength} are accepted.");
        }
        if (UserDirectory.IsAnonymous(subject))
        {
            return new QlikItemResult(400, subject, type, QlikCodes.BadAssignment, $"Anonymous users ('{UserDirectory.AnonymousPrefix}…') cannot hold a seat.");
        }
        return null;
    }
}
