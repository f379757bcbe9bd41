using Tally.Contract;

namespace Tally.Client;

/// <summary>
/// One engagement event as the application reports it. <c>Id</c> and <c>Time</c> are filled by the client when absent:
/// the id makes every retry idempotent (R10), the time is kept by Tally for reference.
/// </summary>
public sealed record TallyEvent(string? User, string? App, string Action, string? Device = null, DateTimeOffset? Time = null, string? Id = null);

/// <summary>
/// Event ids that are unique across clients and restarts without a random draw per event: 128 random bits drawn once per
/// client, then a counter. (A GUID per event costs a read of the system's random source each: half of <c>Track</c>.)
/// </summary>
internal sealed class EventIds
{
    private readonly string _prefix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    private long _next;

    public string Next() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_prefix}-{Interlocked.Increment(ref _next):x}");
}

/// <summary>The actions of the rule book (R4), by name.</summary>
public static class TallyActions
{
    public const string OpenApp = "open-app";
    public const string Select = "select";
    public const string Navigate = "navigate";
    public const string Reload = "reload";
    public const string Insight = "insight";
    public const string Profile = "profile";
    public const string CreateBookmark = "create-bookmark";
    public const string CreateStory = "create-story";
    public const string CreateSnapshot = "create-snapshot";
    public const string ScheduledReload = "scheduled-reload";
    public const string Heartbeat = "heartbeat";
    public const string CloseApp = "close-app";
    public const string Logout = "logout";
    public const string CreateSheet = "create-sheet";
    public const string EditSheet = "edit-sheet";
    public const string PublishSheet = "publish-sheet";
    public const string CreateApp = "create-app";
    public const string EditApp = "edit-app";
    public const string PublishApp = "publish-app";

    private static readonly HashSet<string> RestrictedActions = [CreateSheet, EditSheet, PublishSheet, CreateApp, EditApp, PublishApp];
    private static readonly HashSet<string> FreeActions = [Heartbeat, CloseApp, Logout];

    /// <summary>Professional-only actions (R4 "restricted"): anyone else is denied <c>not-permitted</c>.</summary>
    public static bool IsRestricted(string action) => RestrictedActions.Contains(action);

    /// <summary>Presence and closing actions: never charged.</summary>
    public static bool IsFree(string action) => FreeActions.Contains(action);
}

/// <summary>
/// The answer to an access check. <c>Offline</c> is true when Tally could not be reached and the client decided under its
/// offline policy; then <c>Server</c> is null and <c>Reason</c> of a denial is <c>offline</c>, <c>offline-grace-exhausted</c>
/// or <c>offline-restricted</c>.
/// </summary>
public sealed record AccessDecision(bool Allowed, string Id, string Decision, string? Reason, DateTimeOffset? RetryAfter, bool Offline, AccessResult? Server);

/// <summary>A snapshot of the client's counters since it started.</summary>
public sealed record TallyClientStatus(
    bool Online, DateTimeOffset? OfflineSince, long Tracked, long Sent, long Duplicates, long Rejected, long Dropped, long Buffered,
    int GraceMinutesUsed, int OfflineRecords);
