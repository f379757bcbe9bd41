using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Who is calling: resolved from the bearer key for each request.</summary>
public sealed record Caller(string KeyId, string? Tenant, ApiRole Role);

/// <summary>
/// Issues and checks API keys. A key reads <c>tally_ID_SECRET</c>; only the SHA-256 of the whole string is stored,
/// and the ID part lets an admin revoke a key without ever seeing it again.
/// </summary>
public sealed class ApiKeys(ITenantCatalog store, TimeProvider time, Microsoft.Extensions.Options.IOptions<TallyOptions>? options = null)
{
    /// <summary>
    /// How long a cluster node trusts a key it has looked up before it reads the key again: a revocation made through
    /// another node reaches this one's cache no later than this (a single node sweeps its cache as it revokes).
    /// </summary>
    public static readonly TimeSpan ClusterRecheck = TimeSpan.FromSeconds(5);

    // By the key itself (memory only; the store holds hashes), with when the store was last read for it.
    private readonly ConcurrentDictionary<string, Cached> _cache = new(StringComparer.Ordinal);
    private readonly bool _recheck = options?.Value.Cluster.Enabled == true;

    // Counts revocations. A Resolve that read the store before a revocation may cache its answer after Revoke swept
    // the cache; it compares this count from before its read with the count after its insert and, when they differ,
    // drops its entry and asks the store again, so a revoked key can never be left cached.
    private long _revocations;

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Creates a key and returns its id and the secret string (shown once).</summary>
    public (string Id, string Key) Issue(string? tenant, ApiRole role)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var key = $"tally_{id}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        store.AddApiKey(new ApiKeyRecord(id, Hash(key), tenant, role, time.GetUtcNow(), null));
        return (id, key);
    }

    /// <summary>Shortest operator-chosen bootstrap key: 24 random characters are beyond guessing; "a" is not.</summary>
    public const int MinBootstrapKeyLength = 24;

    /// <summary>Longest key a request may carry (<see cref="Resolve"/> ignores longer ones).</summary>
    public const int MaxKeyLength = 512;

    /// <summary>
    /// Why <paramref name="key"/> is too weak (or cannot work) as TALLY_ADMIN_KEY, or null. A bootstrap key creates
    /// tenants and issues any tenant's keys, so a guessable one gives the whole server away; the server refuses to start
    /// with one rather than accept it. Generated keys (tally_…) always pass.
    /// </summary>
    public static string? CheckBootstrapKey(string key) =>
        key.Length < MinBootstrapKeyLength
            ? $"TALLY_ADMIN_KEY is {key.Length} character{(key.Length == 1 ? "" : "s")}; a bootstrap key must have at least {MinBootstrapKeyLength} (e.g. openssl rand -hex 32), or leave it unset and use the key Tally generates"
            : key.Length > MaxKeyLength
            ? $"TALLY_ADMIN_KEY is {key.Length} characters; at most {MaxKeyLength} are accepted in a request"
            : key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
            ? "TALLY_ADMIN_KEY contains whitespace or a control character, which an Authorization header does not carry intact"
            : key.Distinct().Count() < 8
            ? "TALLY_ADMIN_KEY repeats too few characters (fewer than 8 different ones) to be a secret; use a random key (e.g. openssl rand -hex 32)"
            : null;

    /// <summary>Stores an operator-chosen bootstrap key (TALLY_ADMIN_KEY) unless its hash is already known.</summary>
    public void EnsureBootstrap(string key)
    {
        var hash = Hash(key);
        if (store.FindApiKey(hash) is null)
        {
            store.AddApiKey(new ApiKeyRecord("bootstrap-" + Convert.ToHexStringLower(hash)[..8], hash, null, ApiRole.Bootstrap, time.GetUtcNow(), null));
        }
    }

    /// <summary>The caller a key stands for; null when it is unknown or revoked. Once <see cref="Revoke"/> has returned, a revoked key resolves to null.</summary>
    public Caller? Resolve(string key)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            return null;
        }
        if (_cache.TryGetValue(key, out var known))
        {
            if (!_recheck || time.GetUtcNow().UtcTicks - known.CheckedTicks < ClusterRecheck.Ticks)
            {
                return known.Caller;
            }
            // Another node may have revoked it: drop it and read the store again, as on the first use.
            _cache.TryRemove(KeyValuePair.Create(key, known));
        }
        var revocations = Volatile.Read(ref _revocations);
        // Only valid keys are cached: caching misses would let random keys grow the cache without bound.
        if (store.FindApiKey(Hash(key)) is not { Revoked: null } record)
        {
            return null;
        }
        var caller = new Caller(record.Id, record.Tenant, record.Role);
        var cached = new Cached(caller, time.GetUtcNow().UtcTicks);
        _cache[key] = cached;
        // The fence orders the insert before the read of the count; Revoke bumps the count (a full fence too) before
        // it sweeps, so either its sweep sees this entry or this check sees its bump.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _revocations) != revocations)
        {
            _cache.TryRemove(KeyValuePair.Create(key, cached));
            return store.FindApiKey(Hash(key)) is { Revoked: null } ? caller : null;
        }
        return caller;
    }

    /// <summary>Revokes key <paramref name="id"/> in the ledger; when this returns, no request authenticates with it again.</summary>
    public bool Revoke(string id)
    {
        var revoked = store.RevokeApiKey(id, time.GetUtcNow());
        Interlocked.Increment(ref _revocations);
        // The cache is keyed by the secret, which is not stored, so drop every entry of that id.
        foreach (var (key, cached) in _cache)
        {
            if (cached.Caller.KeyId == id)
            {
                _cache.TryRemove(key, out _);
            }
        }
        return revoked;
    }

    private sealed record Cached(Caller Caller, long CheckedTicks);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
