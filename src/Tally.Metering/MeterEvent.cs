namespace Tally.Metering;

/// <summary>
/// One validated engagement event, already interned: users, devices and apps are small integers handed out by a
/// <see cref="SymbolTable"/> at the edge, so the core compares integers, never strings.
/// 0 means "none" for <see cref="User"/> and <see cref="App"/>, and the user's one implicit device for
/// <see cref="Device"/> (R2).
/// </summary>
/// <param name="TimeTicks">The instant, as UTC ticks.</param>
/// <param name="User">Interned user; 0 only for <see cref="MeterAction.ScheduledReload"/>.</param>
/// <param name="Device">Interned device; 0 is the implicit device.</param>
/// <param name="App">Interned app; 0 only for <c>heartbeat</c> and <c>logout</c>.</param>
/// <param name="Action">What happened.</param>
/// <param name="Id">Optional idempotency id (R10); events without one are never deduplicated.</param>
public readonly record struct MeterEvent(long TimeTicks, int User, int Device, int App, MeterAction Action, string? Id = null)
{
    public DateTimeOffset Time => new(TimeTicks, TimeSpan.Zero);

    public static MeterEvent At(DateTimeOffset time, int user, int device, int app, MeterAction action, string? id = null) =>
        new(time.UtcTicks, user, device, app, action, id);
}

/// <summary>
/// Interns names to dense integers (1, 2, …; 0 is reserved for "none"). Lookups by span do not allocate, so a
/// parser can resolve a field without creating a string for names it has already seen.
/// </summary>
public sealed class SymbolTable
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanLookup;
    private readonly List<string> _names = [""];

    public SymbolTable() => _spanLookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count - 1;

    public int Intern(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty)
        {
            return 0;
        }
        if (_spanLookup.TryGetValue(name, out var id))
        {
            return id;
        }
        var text = name.ToString();
        id = _names.Count;
        _names.Add(text);
        _ids.Add(text, id);
        return id;
    }

    public bool TryGet(ReadOnlySpan<char> name, out int id) => _spanLookup.TryGetValue(name, out id);

    public string NameOf(int id) => _names[id];
}
