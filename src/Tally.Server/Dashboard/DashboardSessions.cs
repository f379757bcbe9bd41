using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tally.Storage;

namespace Tally.Server.Dashboard;

/// <summary>
/// Dashboard sign-in sessions. The browser holds an opaque random token in an HttpOnly cookie; the server keeps only
/// the token's SHA-256 and the caller it stands for, never the API key. On a single node sessions live in memory: a
/// restart signs everyone out, which is the safe failure. A cluster's nodes keep them in the database
/// (<see cref="ISessionCatalog"/>) instead, so a browser may reach any node, and a sign-out through one ends the session
/// on all. A session ends at sign-out, after <see cref="IdleLifetime"/> without a
/// request, after <see cref="MaxLifetime"/>, or as soon as its API key is revoked; an ended session never comes back.
/// At most <see cref="DashboardOptions.MaxSessions"/> live at once, however many sign in together.
/// </summary>
public sealed class DashboardSessions(TimeProvider time, ITenantCatalog store, IOptions<TallyOptions> options, ISessionCatalog? shared = null)
{
    public const string CookieName = "tally_session";
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(8);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    /// <summary>How stale a shared session's last use may get before a request records it again (one write a minute, not one per poll).</summary>
    public static readonly TimeSpan SharedTouchEvery = TimeSpan.FromMinutes(1);

    private readonly int _maxSessions = options.Value.Dashboard.MaxSessions;
    private readonly ISessionCatalog? _shared = options.Value.Cluster.Enabled ? shared : null;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _sweep = new();

    // Sessions held plus sign-ins under way: a place is reserved before a session is added and given back after one
    // is removed, so the dictionary never holds more than the cap even while many sign in at once (checking the
    // dictionary's count first and adding after let concurrent sign-ins all pass the check).
    private int _places;

    private sealed record Session(Caller Caller, DateTimeOffset Created, DateTimeOffset LastSeen);

    public int Count => _shared?.SessionCount() ?? Volatile.Read(ref _places);

    public int MaxSessions => _maxSessions;

    /// <summary>
    /// Starts a session for <paramref name="caller"/> and returns the token for the cookie (shown to no one else); null
    /// when <see cref="MaxSessions"/> are live even after dropping the expired ones.
    /// </summary>
    public string? Create(Caller caller)
    {
        var now = time.GetUtcNow();
        if (_shared is not null)
        {
            var newToken = NewToken();
            return _shared.AddSession(new SessionRecord(Id(newToken), caller.KeyId, now, now), _maxSessions, now - IdleLifetime, now - MaxLifetime) ? newToken : null;
        }
        if (!Reserve())
        {
            // One sweep at a time: the rest wait for it rather than all walking the same full dictionary.
            lock (_sweep)
            {
                foreach (var (id, session) in _sessions)
                {
                    if (Expired(session, now))
                    {
                        Remove(id, session);
                    }
                }
            }
            if (!Reserve())
            {
                return null;
            }
        }
        var token = NewToken();
        _sessions[Id(token)] = new Session(caller, now, now);
        return token;
    }

    private static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The session's caller, or null when the token is unknown, ended, expired, or its key was revoked.</summary>
    public Caller? Resolve(string? token)
    {
        if (token is not { Length: > 0 and <= 128 })
        {
            return null;
        }
        var id = Id(token);
        if (_shared is not null)
        {
            return ResolveShared(_shared, id);
        }
        if (!_sessions.TryGetValue(id, out var session))
        {
            return null;
        }
        var now = time.GetUtcNow();
        // A revoked key ends its sessions at once, like it ends its bearer use.
        if (Expired(session, now) || store.GetApiKey(session.Caller.KeyId) is not { Revoked: null })
        {
            Remove(id, session);
            return null;
        }
        // Touch only the session that was read: if a sign-out removed it meanwhile, writing it back would revive it.
        // When another request touched it first the update fails harmlessly, and the session is still there.
        return _sessions.TryUpdate(id, session with { LastSeen = now }, session) || _sessions.ContainsKey(id) ? session.Caller : null;
    }

    public bool End(string? token) => token is { Length: > 0 and <= 128 } && (_shared?.EndSession(Id(token)) ?? Remove(Id(token), null));

    private Caller? ResolveShared(ISessionCatalog sessions, string id)
    {
        if (sessions.GetSession(id) is not { } session)
        {
            return null;
        }
        var now = time.GetUtcNow();
        // The caller is read from the key each time, as the single node checks its revocation each time.
        if (Expired(session.Created, session.LastSeen, now) || store.GetApiKey(session.KeyId) is not { Revoked: null } key)
        {
            sessions.EndSession(id);
            return null;
        }
        if (now - session.LastSeen >= SharedTouchEvery)
        {
            sessions.TouchSession(id, now);
        }
        return new Caller(key.Id, key.Tenant, key.Role);
    }

    /// <summary>
    /// The caller of a cookie session, for Auth. Only safe methods (GET, HEAD): the dashboard only reads, so a cookie
    /// can never change anything even if SameSite were bypassed.
    /// </summary>
    public static Caller? FromCookie(HttpContext http) =>
        (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        && http.Request.Cookies.TryGetValue(CookieName, out var token)
            ? http.RequestServices.GetRequiredService<DashboardSessions>().Resolve(token)
            : null;

    private bool Reserve()
    {
        if (Interlocked.Increment(ref _places) <= _maxSessions)
        {
            return true;
        }
        Interlocked.Decrement(ref _places);
        return false;
    }

    /// <summary>Removes the session (only if it is still <paramref name="expected"/>, when given) and gives its place back.</summary>
    private bool Remove(string id, Session? expected)
    {
        var removed = expected is null ? _sessions.TryRemove(id, out _) : _sessions.TryRemove(KeyValuePair.Create(id, expected));
        if (removed)
        {
            Interlocked.Decrement(ref _places);
        }
        return removed;
    }

    private static bool Expired(Session session, DateTimeOffset now) => Expired(session.Created, session.LastSeen, now);

    private static bool Expired(DateTimeOffset created, DateTimeOffset lastSeen, DateTimeOffset now) => now - lastSeen >= IdleLifetime || now - created >= MaxLifetime;

    private static string Id(string token) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
}
