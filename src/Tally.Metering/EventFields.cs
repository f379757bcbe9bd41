using System.Globalization;

namespace Tally.Metering;

/// <summary>The raw text fields of one event as read from a file or an HTTP body, before validation.</summary>
public readonly ref struct EventFields(
    ReadOnlySpan<char> time, ReadOnlySpan<char> user, ReadOnlySpan<char> device,
    ReadOnlySpan<char> app, ReadOnlySpan<char> action, ReadOnlySpan<char> id)
{
    public ReadOnlySpan<char> Time { get; } = time;
    public ReadOnlySpan<char> User { get; } = user;
    public ReadOnlySpan<char> Device { get; } = device;
    public ReadOnlySpan<char> App { get; } = app;
    public ReadOnlySpan<char> Action { get; } = action;
    public ReadOnlySpan<char> Id { get; } = id;
}

/// <summary>Why an event was rejected (R12): the field at fault and a reason a person can act on.</summary>
public sealed record EventError(string Field, string Reason)
{
    public override string ToString() => $"{Field}: {Reason}";
}

/// <summary>
/// Validation at the edge (R4, R12): every rule about what a well-formed event is lives here, so the file
/// reader and the server reject the same things with the same words.
/// </summary>
public static class EventValidation
{
    /// <summary>Longest accepted user, device, app or id, in characters.</summary>
    public const int MaxFieldLength = 256;

    /// <summary>
    /// Validates <paramref name="fields"/> and interns names into the three symbol tables. The time may be
    /// absent only when <paramref name="timeRequired"/> is false (a live server stamps its own). Returns the error,
    /// or null with <paramref name="parsed"/> filled in. Nothing is interned for an invalid event.
    /// </summary>
    public static EventError? Validate(scoped in EventFields fields, bool timeRequired, SymbolTable users, SymbolTable devices, SymbolTable apps, out MeterEvent parsed, out DateTimeOffset? time)
    {
        parsed = default;
        time = null;
        if (fields.Action.IsEmpty)
        {
            return new EventError("action", "is required");
        }
        if (!MeterActions.TryParse(fields.Action, out var action))
        {
            return new EventError("action", $"unknown action '{Truncate(fields.Action)}'");
        }
        if (fields.Time.IsEmpty)
        {
            if (timeRequired)
            {
                return new EventError("time", "is required");
            }
        }
        else if (ParseTime(fields.Time) is { } parsedTime)
        {
            time = parsedTime;
        }
        else
        {
            return new EventError("time", $"'{Truncate(fields.Time)}' is not an ISO-8601 instant with an offset (e.g. 2026-03-01T09:00:00Z)");
        }
        if ((TooLong(fields.User, "user") ?? TooLong(fields.Device, "device") ?? TooLong(fields.App, "app") ?? TooLong(fields.Id, "id")) is { } tooLong)
        {
            return tooLong;
        }
        if (action.RequiresUser() && fields.User.IsWhiteSpace())
        {
            return new EventError("user", $"is required for '{action.ToWire()}'");
        }
        if (action.RequiresApp() && fields.App.IsWhiteSpace())
        {
            return new EventError("app", $"is required for '{action.ToWire()}'");
        }
        var user = action == MeterAction.ScheduledReload ? 0 : users.Intern(fields.User);
        parsed = new MeterEvent(time?.UtcTicks ?? 0, user, devices.Intern(fields.Device), apps.Intern(fields.App), action,
            fields.Id.IsEmpty ? null : fields.Id.ToString());
        return null;
    }

    /// <summary>An ISO-8601 instant that states its offset (<c>Z</c> or <c>±hh:mm</c>); anything else is null.</summary>
    public static DateTimeOffset? ParseTime(ReadOnlySpan<char> text)
    {
        // A time without an offset is ambiguous by a whole time zone, so it is refused rather than guessed (R12).
        if (text.Length < 20 || !HasOffset(text))
        {
            return null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value) ? value : null;
    }

    private static bool HasOffset(ReadOnlySpan<char> text)
    {
        if (text[^1] is 'Z' or 'z')
        {
            return true;
        }
        // ±hh:mm or ±hhmm after the time part.
        var tIndex = text.IndexOfAny('T', 't', ' ');
        if (tIndex < 0)
        {
            return false;
        }
        return text[(tIndex + 1)..].IndexOfAny('+', '-') >= 0;
    }

    private static EventError? TooLong(ReadOnlySpan<char> value, string field) =>
        value.Length > MaxFieldLength ? new EventError(field, $"is {value.Length} characters; at most {MaxFieldLength} are accepted") : null;

    private static string Truncate(ReadOnlySpan<char> value) => value.Length <= 40 ? value.ToString() : string.Concat(value[..40], "…");
}
