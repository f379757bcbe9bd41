using System.Globalization;
using System.Text;
using Tally.Metering;

namespace Tally.Licensing;

/// <summary>One problem in a users file, with its 1-based line number.</summary>
public sealed record UsersFileError(int Line, string Reason)
{
    public override string ToString() => $"line {Line}: {Reason}";
}

/// <summary>Either the allocation plan a users file describes, or every problem found in it.</summary>
public sealed record UsersFileResult(AllocationPlan? Plan, IReadOnlyList<UsersFileError> Errors)
{
    [System.Diagnostics.CodeAnalysis.MemberNotNullWhen(true, nameof(Plan))]
    public bool IsValid => Plan is not null;
}

/// <summary>
/// Parses the users file (R9): CSV with the header <c>user,allocation,groups,capMinutes</c>.
/// <list type="bullet">
/// <item>A user row: <c>allocation</c> is <c>professional</c>, <c>analyzer</c>, <c>capacity</c> or empty (precedence
/// decides); <c>groups</c> are separated by <c>;</c>; <c>capMinutes</c> is an optional monthly cap.</item>
/// <item><c>group:NAME</c>: <c>capMinutes</c> caps each member's own consumption; <c>allocation</c> <c>capacity</c>
/// makes the group eligible for capacity (once any group is, only eligible groups' members and users assigned
/// capacity explicitly may draw it).</item>
/// <item><c>*</c>: <c>allocation</c> <c>professional</c> or <c>analyzer</c> turns on auto-assign of that seat;
/// <c>capMinutes</c> caps every capacity user.</item>
/// </list>
/// Blank lines are skipped; fields may be double-quoted. The parser is pure: it reads text, it never opens files.
/// </summary>
public static class UsersFile
{
    public const string Header = "user,allocation,groups,capMinutes";
    public const string GroupPrefix = "group:";
    public const string Everyone = "*";

    public static UsersFileResult Parse(string text)
    {
        var errors = new List<UsersFileError>();
        var users = new List<UserAssignment>();
        var userLines = new Dictionary<string, int>(StringComparer.Ordinal);
        var groupLines = new Dictionary<string, int>(StringComparer.Ordinal);
        var capacityGroups = new HashSet<string>(StringComparer.Ordinal);
        var groupCaps = new Dictionary<string, long>(StringComparer.Ordinal);
        long? everyoneCap = null;
        bool autoProfessional = false, autoAnalyzer = false;
        var headerSeen = false;

        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var lineNumber = i + 1;
            var line = lines[i].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            var split = Split(line);
            if (!split.IsOk)
            {
                errors.Add(new UsersFileError(lineNumber, split.Error));
                continue;
            }
            var fields = split.Value;
            if (!headerSeen)
            {
                headerSeen = true;
                if (string.Join(',', fields) != Header)
                {
                    errors.Add(new UsersFileError(lineNumber, $"the first line must be the header '{Header}'"));
                    return new UsersFileResult(null, errors);
                }
                continue;
            }
            if (fields.Length != 4)
            {
                errors.Add(new UsersFileError(lineNumber, $"expected 4 fields, found {fields.Length}"));
                continue;
            }
            var (name, allocationText, groupsText, capText) = (fields[0], fields[1], fields[2], fields[3]);
            var lineErrors = errors.Count;
            if (name.Length == 0)
            {
                errors.Add(new UsersFileError(lineNumber, "the user is empty"));
                continue;
            }
            long? cap = null;
            if (capText.Length > 0)
            {
                if (long.TryParse(capText, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes))
                {
                    cap = minutes;
                }
                else
                {
                    errors.Add(new UsersFileError(lineNumber, $"capMinutes '{capText}' is not a whole number of minutes"));
                }
            }
            Allocation? allocation = allocationText.Length == 0 ? null : AllocationNames.FromWire(allocationText);
            if (allocation == Allocation.None)
            {
                errors.Add(new UsersFileError(lineNumber, $"allocation '{allocationText}' must be professional, analyzer, capacity or empty"));
                continue;
            }

            if (name == Everyone)
            {
                if (groupsText.Length > 0)
                {
                    errors.Add(new UsersFileError(lineNumber, "a '*' row takes no groups"));
                }
                switch (allocation)
                {
                    case Allocation.Professional:
                        autoProfessional = true;
                        break;
                    case Allocation.Analyzer:
                        autoAnalyzer = true;
                        break;
                    case Allocation.Capacity:
                        errors.Add(new UsersFileError(lineNumber, "a '*' row's allocation turns on auto-assign: professional or analyzer (everyone is eligible for capacity unless a group row says 'capacity')"));
                        break;
                }
                if (cap is not null)
                {
                    if (everyoneCap is not null)
                    {
                        errors.Add(new UsersFileError(lineNumber, "the cap for everyone is set twice"));
                    }
                    everyoneCap = cap;
                }
                continue;
            }

            if (name.StartsWith(GroupPrefix, StringComparison.Ordinal))
            {
                var group = name[GroupPrefix.Length..];
                if (group.Length == 0)
                {
                    errors.Add(new UsersFileError(lineNumber, "the group name is empty"));
                    continue;
                }
                if (!groupLines.TryAdd(group, lineNumber))
                {
                    errors.Add(new UsersFileError(lineNumber, $"group '{group}' is already listed on line {groupLines[group]}"));
                    continue;
                }
                if (groupsText.Length > 0)
                {
                    errors.Add(new UsersFileError(lineNumber, "a group row takes no groups"));
                }
                if (allocation is Allocation.Professional or Allocation.Analyzer)
                {
                    errors.Add(new UsersFileError(lineNumber, "seats are assigned to users, not groups; a group row's allocation may only be 'capacity'"));
                }
                if (allocation == Allocation.Capacity)
                {
                    capacityGroups.Add(group);
                }
                if (cap is { } groupCap)
                {
                    groupCaps[group] = groupCap;
                }
                continue;
            }

            if (!userLines.TryAdd(name, lineNumber))
            {
                errors.Add(new UsersFileError(lineNumber, $"user '{name}' is already listed on line {userLines[name]}"));
                continue;
            }
            var groups = groupsText.Length == 0 ? [] : groupsText.Split(';', StringSplitOptions.TrimEntries);
            if (groups.Any(g => g.Length == 0))
            {
                errors.Add(new UsersFileError(lineNumber, "a group name in the groups field is empty"));
            }
            if (UserDirectory.IsAnonymous(name) && allocation is not null)
            {
                errors.Add(new UsersFileError(lineNumber, $"anonymous users ('{UserDirectory.AnonymousPrefix}…') cannot be assigned; they draw capacity only when the license allows it"));
            }
            if (cap is not null && allocation is Allocation.Professional or Allocation.Analyzer)
            {
                errors.Add(new UsersFileError(lineNumber, "a cap applies to capacity users only, not to a seat"));
            }
            if (errors.Count == lineErrors)
            {
                users.Add(new UserAssignment(name, allocation, groups, cap));
            }
        }
        if (!headerSeen)
        {
            errors.Add(new UsersFileError(1, $"the file is empty: it needs at least the header '{Header}'"));
        }
        if (errors.Count > 0)
        {
            return new UsersFileResult(null, errors);
        }
        return new UsersFileResult(new AllocationPlan
        {
            Users = users,
            CapacityGroups = capacityGroups,
            GroupCapMinutes = groupCaps,
            EveryoneCapMinutes = everyoneCap,
            AutoAssignProfessional = autoProfessional,
            AutoAssignAnalyzer = autoAnalyzer,
        }, []);
    }

    /// <summary>Splits one CSV line; a field may be double-quoted, with <c>""</c> for a quote inside it. Fields are trimmed.</summary>
    private static Outcome<string[], string> Split(string line)
    {
        var result = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var wasQuoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"')
                {
                    field.Append(c);
                }
                else if (i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else
                {
                    quoted = false;
                }
            }
            else if (c == ',')
            {
                result.Add(wasQuoted ? field.ToString() : field.ToString().Trim());
                field.Clear();
                wasQuoted = false;
            }
            else if (c == '"' && field.ToString().Trim().Length == 0 && !wasQuoted)
            {
                field.Clear();
                quoted = wasQuoted = true;
            }
            else if (wasQuoted && !char.IsWhiteSpace(c))
            {
                return "text after a closing quote";
            }
            else if (!wasQuoted)
            {
                field.Append(c);
            }
        }
        if (quoted)
        {
            return "a quoted field is not closed";
        }
        result.Add(wasQuoted ? field.ToString() : field.ToString().Trim());
        return result.ToArray();
    }
}
