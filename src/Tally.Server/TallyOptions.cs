using Microsoft.Extensions.Options;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// Server settings, bound from the <c>Tally</c> configuration section (appsettings.json, <c>Tally__Data</c> style
/// environment variables, and the <c>--data</c> / <c>--public-key</c> / <c>--synchronous</c> flags).
/// </summary>
public sealed class TallyOptions
{
    public const string Section = "Tally";

    /// <summary>Folder holding <c>tally.db</c>; created when missing.</summary>
    public string Data { get; set; } = "./data";

    /// <summary>
    /// File holding the key that seals the secrets of import sources (their API keys and certificates) in the database;
    /// made on first use. Empty: <c>secrets.key</c> in <see cref="Data"/>. Nodes that share a PostgreSQL ledger must
    /// share this file too; keep it out of database backups.
    /// </summary>
    public string? SecretsKeyFile { get; set; }

    /// <summary>The secrets key file in use (<see cref="SecretsKeyFile"/> or its default).</summary>
    public string SecretsKeyPath => string.IsNullOrWhiteSpace(SecretsKeyFile) ? Path.Combine(Data, "secrets.key") : SecretsKeyFile;

    /// <summary>File holding the vendor's public key (PEM or the text the license tool prints).</summary>
    public string? PublicKey { get; set; }

    /// <summary>
    /// PostgreSQL connection string (Npgsql form, e.g. <c>Host=db;Database=tally;Username=tally;Password=...</c>). When set,
    /// the ledger lives there and <see cref="Data"/> is not used for it; when empty, SQLite in <see cref="Data"/>.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>SQLite synchronous mode: Normal survives kill -9, Full also survives power loss.</summary>
    public SqliteSynchronous Synchronous { get; set; } = SqliteSynchronous.Normal;

    /// <summary>Most events accepted in one <c>POST /api/v1/events</c>.</summary>
    public int MaxBatchEvents { get; set; } = 1000;

    /// <summary>Largest accepted request body in bytes.</summary>
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Most events one tenant's writer applies and commits in one transaction.</summary>
    public int MaxGroupCommitEvents { get; set; } = 5000;

    /// <summary>Threads that run the tenants' writers, however many tenants there are; 0: one per core.</summary>
    public int WriterThreads { get; set; }

    /// <summary>
    /// A tenant idle this long has its meter put to sleep: its memory is let go and the meter is rebuilt from the
    /// ledger when its next event arrives (a replay of its history, so keep this well above a busy tenant's quiet
    /// spells). Zero: never.
    /// </summary>
    public TimeSpan SleepIdleTenantsAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long each tenant's meter keeps accepted event ids in memory (R10). A resent event inside the window is
    /// recognised in memory; one older than it is recognised by the ledger's unique index before it is applied, so a
    /// duplicate is still a duplicate at any time in the tenant's history. Ids are let go a sixteenth of the window at a
    /// time, so one may stay up to that much longer: memory for ids is one window's worth and a sixteenth.
    /// Zero keeps every id in memory for the life of the process.
    /// </summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(48);

    /// <summary>Let a tenant install an earlier issue of a license it already had (off: refused with 409, reason rollback).</summary>
    public bool AllowLicenseRollback { get; set; }

    /// <summary>Let one license id be installed on several tenants at once (off: refused with 409, reason installed-elsewhere).</summary>
    public bool AllowSharedLicenses { get; set; }

    /// <summary>
    /// The address clients reach this server at (e.g. <c>https://tally.example.com</c> behind a reverse proxy). Page
    /// links of the Qlik-compatible API start with it; when empty they start with the address of the request.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>
    /// Reverse proxies whose <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> Tally believes: comma-separated IP
    /// addresses or CIDR networks (<c>10.0.0.5, 10.1.0.0/16</c>). Empty (the default): those headers are ignored, the
    /// client is the peer of the TCP connection and a request is HTTPS only when it reached Tally over TLS. Believing
    /// them from anyone else would let any client choose its own address (and escape the failed-attempt limit).
    /// </summary>
    public string? TrustedProxies { get; set; }

    /// <summary>Dashboard sign-in settings, <c>Tally:Dashboard:*</c>.</summary>
    public DashboardOptions Dashboard { get; set; } = new();

    /// <summary>The allowance of failed authentications per client, <c>Tally:FailedAuth:*</c>.</summary>
    public FailedAuthOptions FailedAuth { get; set; } = new();

    /// <summary>The cluster, <c>Tally:Cluster:*</c> (<c>tally serve --cluster</c>, docs/scaling.md).</summary>
    public ClusterSettings Cluster { get; set; } = new();

    public string DatabasePath => Path.Combine(Data, "tally.db");
}

/// <summary>
/// A node of a cluster: an Orleans silo beside the HTTP front, its membership kept in the PostgreSQL ledger. Off by
/// default; a single node needs none of it.
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>Join (or form) the cluster named <see cref="Id"/> in <see cref="TallyOptions.Database"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The cluster's name in the membership tables: nodes with the same database and id form one cluster.</summary>
    public string Id { get; set; } = "tally";

    /// <summary>The port the nodes talk to each other on (Orleans' silo port); open it between the nodes only.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The address other nodes reach this one at; empty: the first non-loopback IPv4 address of the host.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// How long a probe of another node may go unanswered. A node that misses two probes in a row from two others is
    /// declared dead and its tenants move: this sets how quickly a dead node's tenants answer again, and how long a
    /// pause (a long GC, a frozen VM) a node may take without losing its tenants.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The node's certificate (PEM, with <see cref="CertificateKey"/>; or PKCS#12 with <see cref="CertificatePassword"/>):
    /// the nodes talk over mutual TLS and admit only a peer that proves it holds a trusted certificate, since a call
    /// between nodes carries a tenant's request with its already-authenticated caller. <c>tally cluster-cert</c> makes one.
    /// Required unless the node is advertised on loopback (every node on one machine, for a trial).
    /// </summary>
    public string? Certificate { get; set; }

    /// <summary>The PEM private key of <see cref="Certificate"/>; empty when the certificate file holds its key.</summary>
    public string? CertificateKey { get; set; }

    /// <summary>The password of a PKCS#12 <see cref="Certificate"/>, or of an encrypted PEM key; from configuration or environment only, never a flag.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// PEM file of the certificates a peer may present or chain to (a cluster CA, or the old and new certificate while
    /// rotating). Empty: only a peer with this node's own certificate is admitted.
    /// </summary>
    public string? Trust { get; set; }

    /// <summary>True when no other machine can reach the silo port: the node is advertised (and listens) on loopback only.</summary>
    public bool LoopbackOnly => AdvertisedAddress is { Length: > 0 } a && System.Net.IPAddress.TryParse(a, out var ip) && System.Net.IPAddress.IsLoopback(ip);
}

/// <summary>When the dashboard's session cookie carries <c>Secure</c> (sent over HTTPS only).</summary>
public enum SecureCookie
{
    /// <summary>When the request came over HTTPS (directly, or per <c>X-Forwarded-Proto</c> from a trusted proxy) or to a loopback host.</summary>
    Auto,

    /// <summary>Always: for a TLS reverse proxy whose forwarded headers Tally is not told to trust.</summary>
    Always,
}

public sealed class DashboardOptions
{
    public SecureCookie SecureCookie { get; set; } = SecureCookie.Auto;

    /// <summary>Most live sign-in sessions (all tenants together); a sign-in beyond it, after expired ones are dropped, is a 503.</summary>
    public int MaxSessions { get; set; } = 10_000;
}

/// <summary>
/// Requests that present a key which does not authenticate (a bearer key, or the key of a dashboard sign-in) draw on an
/// allowance per client address: <see cref="Limit"/> at once, refilled evenly over <see cref="WindowSeconds"/>. Once
/// it is spent such requests are a 429 with <c>Retry-After</c>. Valid keys never draw on it and are never refused.
/// </summary>
public sealed class FailedAuthOptions
{
    /// <summary>Failed attempts a client may make in a burst, and per window; 0 turns the limit off.</summary>
    public int Limit { get; set; } = 20;

    public int WindowSeconds { get; set; } = 60;
}

internal sealed class TallyOptionsValidator : IValidateOptions<TallyOptions>
{
    public ValidateOptionsResult Validate(string? name, TallyOptions options)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Data))
        {
            problems.Add("Tally:Data (--data) must name a folder.");
        }
        if (options.PublicKey is { Length: > 0 } key && !File.Exists(key))
        {
            problems.Add($"Tally:PublicKey (--public-key) names '{key}', which does not exist.");
        }
        if (!Enum.IsDefined(options.Synchronous))
        {
            problems.Add("Tally:Synchronous (--synchronous) must be Normal or Full.");
        }
        if (options.MaxBatchEvents is < 1 or > 100_000)
        {
            problems.Add("Tally:MaxBatchEvents must be between 1 and 100000.");
        }
        if (options.MaxBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            problems.Add("Tally:MaxBodyBytes must be between 1024 and 67108864.");
        }
        if (options.PublicBaseUrl is { Length: > 0 } baseUrl
            && !(Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Query.Length == 0 && uri.Fragment.Length == 0))
        {
            problems.Add($"Tally:PublicBaseUrl '{baseUrl}' must be an absolute http or https address without a query, e.g. https://tally.example.com.");
        }
        if (options.IdempotencyWindow < TimeSpan.Zero || (options.IdempotencyWindow > TimeSpan.Zero && options.IdempotencyWindow < TimeSpan.FromMinutes(10)))
        {
            problems.Add("Tally:IdempotencyWindow must be at least 00:10:00, or 0 to keep every event id in memory.");
        }
        if (options.WriterThreads < 0 || options.SleepIdleTenantsAfter < TimeSpan.Zero)
        {
            problems.Add("Tally:WriterThreads and Tally:SleepIdleTenantsAfter must not be negative.");
        }
        if (options.MaxGroupCommitEvents < 1)
        {
            problems.Add("Tally:MaxGroupCommitEvents must be at least 1.");
        }
        if (TrustedProxies.Parse(options.TrustedProxies).Error is { } badProxy)
        {
            problems.Add($"Tally:TrustedProxies: {badProxy}.");
        }
        if (!Enum.IsDefined(options.Dashboard.SecureCookie))
        {
            problems.Add("Tally:Dashboard:SecureCookie must be Auto or Always.");
        }
        if (options.Dashboard.MaxSessions is < 1 or > 1_000_000)
        {
            problems.Add("Tally:Dashboard:MaxSessions must be between 1 and 1000000.");
        }
        if (options.FailedAuth.Limit is < 0 or > 1_000_000)
        {
            problems.Add("Tally:FailedAuth:Limit must be between 0 (off) and 1000000.");
        }
        if (options.FailedAuth.WindowSeconds is < 1 or > 86_400)
        {
            problems.Add("Tally:FailedAuth:WindowSeconds must be between 1 and 86400.");
        }
        if (options.Cluster.Enabled)
        {
            if (string.IsNullOrWhiteSpace(options.Database))
            {
                problems.Add("Tally:Cluster (--cluster) needs Tally:Database (--database), a PostgreSQL connection string: the nodes share one ledger, "
                    + "and a SQLite ledger is one process's file. Leave --cluster out to run one node on SQLite.");
            }
            if (options.Cluster.SiloPort is < 1 or > 65535)
            {
                problems.Add("Tally:Cluster:SiloPort (--silo-port) must be between 1 and 65535.");
            }
            if (options.Cluster.AdvertisedAddress is { Length: > 0 } advertised && !System.Net.IPAddress.TryParse(advertised, out _))
            {
                problems.Add($"Tally:Cluster:AdvertisedAddress (--advertise) '{advertised}' must be an IP address the other nodes reach this one at.");
            }
            if (string.IsNullOrWhiteSpace(options.Cluster.Id) || options.Cluster.Id.Length > 100)
            {
                problems.Add("Tally:Cluster:Id must be 1 to 100 characters.");
            }
            if (string.IsNullOrWhiteSpace(options.Cluster.Certificate) && !options.Cluster.LoopbackOnly)
            {
                problems.Add("Tally:Cluster:Certificate (--cluster-cert) is required: the nodes pass each other tenants' requests with their "
                    + "callers, so they talk over mutual TLS with a certificate only they hold. Make one with `tally cluster-cert --out DIR` "
                    + "and give every node the same files (--cluster-cert DIR/cluster.crt --cluster-key DIR/cluster.key), "
                    + "or run every node on this machine with --advertise 127.0.0.1.");
            }
            if (string.IsNullOrWhiteSpace(options.Cluster.Certificate) && (!string.IsNullOrWhiteSpace(options.Cluster.CertificateKey) || !string.IsNullOrWhiteSpace(options.Cluster.Trust)))
            {
                problems.Add("Tally:Cluster:CertificateKey (--cluster-key) and Tally:Cluster:Trust (--cluster-trust) need Tally:Cluster:Certificate (--cluster-cert).");
            }
            if (options.Cluster.ProbeTimeout < TimeSpan.FromMilliseconds(200) || options.Cluster.ProbeTimeout > TimeSpan.FromMinutes(1))
            {
                problems.Add("Tally:Cluster:ProbeTimeout must be between 00:00:00.2 and 00:01:00.");
            }
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
