namespace Tally.Metering.Tests;

/// <summary>
/// Builds a timeline of events from readable text and meters it through the real validation and engine,
/// so each test reads like the rule book's examples.
/// </summary>
internal sealed class Scenario
{
    public static readonly DateTimeOffset Day = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private readonly SymbolTable _users = new();
    private readonly SymbolTable _devices = new();
    private readonly SymbolTable _apps = new();
    private readonly List<MeterEvent> _events = [];

    public Scenario(MeterOptions? options = null, IUserDirectory? directory = null, TimeSpan? idMemory = null)
    {
        Options = options ?? new MeterOptions();
        Meter = new Meter(Options, directory) { IdMemory = idMemory };
    }

    public MeterOptions Options { get; }

    public Meter Meter { get; }

    public List<(MeterEvent Event, Decision Decision)> Decisions { get; } = [];

    /// <summary>Sinks fed each decision right after its event is applied, as a tool's sinks are.</summary>
    public List<IDecisionSink> Sinks { get; } = [];

    /// <summary>Minutes after <see cref="Day"/>, as an instant.</summary>
    public static DateTimeOffset At(double minutes) => Day.AddMinutes(minutes);

    public static MeterOptions App => new() { Mode = CountingMode.App };

    public static MeterOptions Pool(long minutes, OverageAllowance? overage = null, CountingMode mode = CountingMode.Device) =>
        new() { Mode = mode, Pool = new PoolTerms(minutes, overage ?? OverageAllowance.None) };

    /// <summary>Parses and applies one event; returns its decisions.</summary>
    public IReadOnlyList<Decision> Event(DateTimeOffset time, string? user, string? device, string? app, string action, string? id = null)
    {
        var fields = new EventFields(time.ToString("O"), user, device, app, action, id);
        var parsed = EventValidation.Validate(fields, timeRequired: true, _users, _devices, _apps);
        Assert.Null(parsed.Error);
        var e = parsed.Value;
        _events.Add(e);
        var decisions = Meter.Apply(e);
        foreach (var d in decisions)
        {
            Decisions.Add((e, d));
            foreach (var sink in Sinks)
            {
                sink.Add(e, d);
            }
        }
        return decisions;
    }

    public Decision Single(double minute, string user, string? device, string? app, string action, string? id = null) =>
        Assert.Single(Event(At(minute), user, device, app, action, id));

    public IReadOnlyList<Decision> Reload(double minute, string app) => Event(At(minute), null, null, app, "scheduled-reload");

    public int Units => Decisions.Count(d => d.Decision.UnitStartTicks != 0 && d.Decision.Kind is DecisionKind.Charged or DecisionKind.Free);

    public int UnitsOf(string user) => Decisions.Count(d => d.Decision.Kind == DecisionKind.Charged && d.Decision.User == _users.Intern(user));

    public int UserId(string user) => _users.Intern(user);

    public int AppId(string app) => _apps.Intern(app);
}
