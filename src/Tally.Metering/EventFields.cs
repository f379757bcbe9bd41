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
    /// absent only when <paramref name="timeRequired"/> is false (a live server stamps its own; the event's time is then
    /// 0). Returns the event or the error. Nothing is interned for an invalid event.
    /// <paramref name="checkText"/>: apply <see cref="CheckText"/> to every field; false only to replay what a ledger
    /// already holds (recorded before the rule existed, it is replayed as recorded rather than refused).
    /// <paramref name="keepId"/>: false leaves the event's <see cref="MeterEvent.Id"/> null (the id is still validated),
    /// for a caller that keeps ids its own way rather than as one string per event.
    /// </summary>
    public static Outcome<MeterEvent, EventError> Validate(scoped in EventFields fields, bool timeRequired, SymbolTable users, SymbolTable devices, SymbolTable apps,
        bool checkText = true, bool keepId = true)
    {
        DateTimeOffset? time = null;
        if (checkText && (BadText(fields.Id, "id") ?? BadText(fields.User, "user") ?? BadText(fields.Device, "device") ?? BadText(fields.App, "app")
            ?? BadText(fields.Action, "action") ?? BadText(fields.Time, "time")) is { } badText)
        {
            return badText;
        }
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
        return new MeterEvent(time?.UtcTicks ?? 0, user, devices.Intern(fields.Device), apps.Intern(fields.App), action,
            fields.Id.IsEmpty || !keepId ? null : fields.Id.ToString());
    }

    /// <summary>
    /// The one rule for text Tally keeps as a name or an id (R12): no control character (Unicode Cc, U+0000–U+001F and
    /// U+007F–U+009F) and no unpaired surrogate. PostgreSQL text cannot hold U+0000 at all; SQLite keeps an unpaired
    /// surrogate only as U+FFFD, so two different ids would become one; a control character in a name breaks logs,
    /// CSV exports and terminals, and no real user, app or device name needs one. Returns why, with the 1-based
    /// position of the first offending character, or null when the text is acceptable.
    /// </summary>
    public static string? CheckText(ReadOnlySpan<char> text)
    {
        var control = IndexOfControl(text);
        var surrogate = IndexOfUnpairedSurrogate(text);
        if (control < 0 && surrogate < 0)
        {
            return null;
        }
        var at = control >= 0 && (surrogate < 0 || control < surrogate) ? control : surrogate;
        var code = string.Create(CultureInfo.InvariantCulture, $"U+{(int)text[at]:X4}");
        return at == control
            ? $"has the control character {code} at position {at + 1}; names and ids may not contain control characters"
            : $"has an unpaired surrogate {code} at position {at + 1}; send well-formed Unicode text";
    }

    private static int IndexOfControl(ReadOnlySpan<char> text)
    {
        var c0 = text.IndexOfAnyInRange('\u0000', '\u001F');
        var c1 = text.IndexOfAnyInRange('\u007F', '\u009F');
        return c0 < 0 ? c1 : c1 < 0 ? c0 : Math.Min(c0, c1);
    }

    private static int IndexOfUnpairedSurrogate(ReadOnlySpan<char> text)
    {
        // Vectorised search first: almost all text has no surrogate at all.
        for (var i = text.IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static EventError? BadText(ReadOnlySpan<char> value, string field) => CheckText(value) is { } reason ? new EventError(field, reason) : null;

    /// <summary>An ISO-8601 instant that states its offset (<c>Z</c> or <c>±hh:mm</c>, at most ±14:00); anything else is null.</summary>
    public static DateTimeOffset? ParseTime(ReadOnlySpan<char> text)
    {
        if (TryParseCommonInstant(text, out var fast))
        {
            return fast;
        }
        // A time without an offset is ambiguous by a whole time zone, so it is refused rather than guessed (R12).
        // The general parser ignores trailing NULs, so control characters are refused before it sees them.
        if (text.Length < 20 || !HasOffset(text) || IndexOfControl(text) >= 0)
        {
            return null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value) ? value : null;
    }

    /// <summary>The largest UTC offset an instant may state, ±14:00 (what <see cref="DateTimeOffset"/> can hold, and Kiribati's).</summary>
    private const int MaxOffsetMinutes = 14 * 60;

    /// <summary>
    /// The shape logs almost always use, <c>yyyy-MM-ddTHH:mm:ss[.fffffff](Z|±HH:mm)</c>, parsed digit by digit:
    /// about ten times faster than the general parser, which remains the fallback for every other valid form.
    /// </summary>
    private static bool TryParseCommonInstant(ReadOnlySpan<char> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }
        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }
        var i = 19;
        long fraction = 0;
        if (s[i] == '.')
        {
            var digits = 0;
            i++;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                if (digits < 7)
                {
                    fraction = (fraction * 10) + (s[i] - '0');
                    digits++;
                }
                i++;
            }
            if (digits == 0)
            {
                return false;
            }
            for (; digits < 7; digits++)
            {
                fraction *= 10;
            }
        }
        long offsetTicks;
        if (i == s.Length - 1 && s[i] is 'Z' or 'z')
        {
            offsetTicks = 0;
        }
        else if (i == s.Length - 6 && s[i] is '+' or '-' && s[i + 3] == ':'
            && Digits(s, i + 1, 2, out var offHours) && Digits(s, i + 4, 2, out var offMinutes) && offMinutes <= 59
            && (offHours * 60) + offMinutes <= MaxOffsetMinutes)
        {
            offsetTicks = ((offHours * 60) + offMinutes) * TimeSpan.TicksPerMinute * (s[i] == '-' ? -1 : 1);
        }
        else
        {
            return false;
        }
        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).Ticks + fraction;
        var utc = local - offsetTicks;
        if (utc < DateTime.MinValue.Ticks || utc > DateTime.MaxValue.Ticks)
        {
            return false;
        }
        value = new DateTimeOffset(local, new TimeSpan(offsetTicks));
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var digit = s[i] - '0';
            if ((uint)digit > 9)
            {
                return false;
            }
            value = (value * 10) + digit;
        }
        return true;
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

    private static string Truncate(ReadOnlySpan<char> value)
    {
        // Echoed in messages that reach terminals and logs: control characters are shown as '?'.
        var shown = new string(value[..Math.Min(value.Length, 40)]);
        shown = string.Create(shown.Length, shown, (span, text) =>
        {
            for (var i = 0; i < text.Length; i++)
            {
                span[i] = char.IsControl(text[i]) ? '?' : text[i];
            }
        });
        return value.Length <= 40 ? shown : shown + "…";
    }
}
