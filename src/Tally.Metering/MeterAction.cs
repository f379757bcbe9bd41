namespace Tally.Metering;

/// <summary>An event's action (R4). The wire form is kebab-case, e.g. <c>open-app</c>.</summary>
public enum MeterAction : byte
{
    OpenApp,
    Select,
    Navigate,
    Reload,
    Insight,
    Profile,
    CreateBookmark,
    CreateStory,
    CreateSnapshot,
    ScheduledReload,
    Heartbeat,
    CloseApp,
    Logout,
    CreateSheet,
    EditSheet,
    PublishSheet,
    CreateApp,
    EditApp,
    PublishApp,
}

/// <summary>What an action does to the meter (R4).</summary>
public enum ActionKind : byte
{
    /// <summary>Consumes: starts or continues a unit on the user's key and connects the user to the app.</summary>
    Engagement,
    /// <summary>A scheduled reload: consumes for every capacity user connected to the app (R5).</summary>
    Background,
    /// <summary>Keeps the session alive; never charges.</summary>
    Presence,
    /// <summary>Ends connections; never charges.</summary>
    Closing,
    /// <summary>Authoring: Professional users only, denied <c>not-permitted</c> for everyone else.</summary>
    Restricted,
}

public static class MeterActions
{
    private static readonly string[] WireNames =
    [
        "open-app", "select", "navigate", "reload", "insight", "profile",
        "create-bookmark", "create-story", "create-snapshot", "scheduled-reload",
        "heartbeat", "close-app", "logout",
        "create-sheet", "edit-sheet", "publish-sheet", "create-app", "edit-app", "publish-app",
    ];

    /// <summary>Every action, in wire order; handy for tests and documentation.</summary>
    public static IReadOnlyList<MeterAction> All { get; } = Enum.GetValues<MeterAction>();

    public static string ToWire(this MeterAction action) => WireNames[(int)action];

    public static ActionKind Kind(this MeterAction action) => action switch
    {
        <= MeterAction.CreateSnapshot => ActionKind.Engagement,
        MeterAction.ScheduledReload => ActionKind.Background,
        MeterAction.Heartbeat => ActionKind.Presence,
        MeterAction.CloseApp or MeterAction.Logout => ActionKind.Closing,
        _ => ActionKind.Restricted,
    };

    /// <summary>R4: <c>app</c> is required for every action except <c>heartbeat</c> and <c>logout</c>.</summary>
    public static bool RequiresApp(this MeterAction action) =>
        action is not (MeterAction.Heartbeat or MeterAction.Logout);

    /// <summary>R4: <c>user</c> is required for every action except <c>scheduled-reload</c>.</summary>
    public static bool RequiresUser(this MeterAction action) => action != MeterAction.ScheduledReload;

    /// <summary>Parses the exact kebab-case wire name; anything else is unknown (R4: never silently ignored).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MeterAction action)
    {
        // A switch on the length first keeps this allocation-free and short for the hot CSV path.
        for (var i = 0; i < WireNames.Length; i++)
        {
            if (text.SequenceEqual(WireNames[i]))
            {
                action = (MeterAction)i;
                return true;
            }
        }
        action = default;
        return false;
    }
}
