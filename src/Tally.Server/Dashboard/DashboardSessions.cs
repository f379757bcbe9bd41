using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tally.Storage;

namespace Tally.Server.Dashboard;

/// <summary>
/// Dashboard sign-in sessions. The browser holds an opaque random token in an HttpOnly cookie; the server keeps only
/// the token's SHA-256 and the caller it stands for, never the API key. Sessions live in memory: a restart signs
/// everyone out, which is the safe failure. A session ends at sign-out, after <see cref="IdleLifetime"/> without a
/// request, after <see cref="MaxLifetime"/>, or as soon as its API key is revoked.
/// </summary>
public sealed class DashboardSessions(TimeProvider time, ILedgerStore store)
{
    public const string CookieName = "tally_session";
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromHours(8);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);
    private const int MaxSessions = 10_000;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    private sealed record Session(Caller Caller, DateTimeOffset Created, DateTimeOffset LastSeen);

    public int Count => _sessions.Count;

    /// <summary>Starts a session for <paramref name="caller"/> and returns the token for the cookie (shown to no one else).</summary>
    public string Create(Caller caller)
    {
        var now = time.GetUtcNow();
        if (_sessions.Count >= MaxSessions)
        {
            foreach (var (id, session) in _sessions)
            {
                if (Expired(session, now))
                {
                    _sessions.TryRemove(id, out _);
                }
            }
        }
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _sessions[Id(token)] = new Session(caller, now, now);
        return token;
    }

    /// <summary>The session's caller, or null when the token is unknown, expired, or its key was revoked.</summary>
    public Caller? Resolve(string? token)
    {
        if (token is not { Length: > 0 and <= 128 })
        {
            return null;
        }
        var id = Id(token);
        if (!_sessions.TryGetValue(id, out var session))
        {
            return null;
        }
        var now = time.GetUtcNow();
        // A revoked key ends its sessions at once, like it ends its bearer use.
        if (Expired(session, now) || store.GetApiKey(session.Caller.KeyId) is not { Revoked: null })
        {
            _sessions.TryRemove(id, out _);
            return null;
        }
        _sessions[id] = session with { LastSeen = now };
        return session.Caller;
    }

    public bool End(string? token) => token is { Length: > 0 and <= 128 } && _sessions.TryRemove(Id(token), out _);

    /// <summary>
    /// The caller of a cookie session, for Auth. Only safe methods (GET, HEAD): the dashboard only reads, so a cookie
    /// can never change anything even if SameSite were bypassed.
    /// </summary>
    public static Caller? FromCookie(HttpContext http) =>
        (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        && http.Request.Cookies.TryGetValue(CookieName, out var token)
            ? http.RequestServices.GetRequiredService<DashboardSessions>().Resolve(token)
            : null;

    private static bool Expired(Session session, DateTimeOffset now) => now - session.LastSeen >= IdleLifetime || now - session.Created >= MaxLifetime;

    private static string Id(string token) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
}
