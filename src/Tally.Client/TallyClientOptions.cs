namespace Tally.Client;

/// <summary>What the client does with an access check while Tally cannot be reached.</summary>
public enum OfflineAccessPolicy
{
    /// <summary>Deny, with reason <c>offline</c>: nobody uses what was not granted. The default.</summary>
    FailClosed,

    /// <summary>
    /// Allow engagement within <see cref="TallyClientOptions.OfflineGraceMinutes"/>, counted in local units; the grants are
    /// reported to Tally once it is back (<c>POST /api/v1/offline-reports</c>). Restricted actions are still denied.
    /// </summary>
    FailOpen,
}

/// <summary>What the local buffer does with a new event when it already holds <see cref="TallyClientOptions.BufferMaxEvents"/>.</summary>
public enum BufferFullPolicy
{
    /// <summary>Keep what is buffered and drop the new event: the oldest usage is billed. The default.</summary>
    DropNewest,

    /// <summary>Drop the oldest buffered event to make room: the latest usage is billed.</summary>
    DropOldest,
}

/// <summary>
/// Tally.Client's settings, bound from the configuration section <c>Tally</c> by
/// <c>services.AddTallyClient(configuration)</c>.
/// Only <see cref="BaseAddress"/> and <see cref="ApiKey"/> are required.
/// </summary>
public sealed class TallyClientOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string Section = "Tally";

    /// <summary>Tally's address, e.g. <c>http://localhost:5000/</c>.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The tenant's API key: ingest for events and access, read for reports, admin for admin calls.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Events per request from the background sender (1–1,000; the server takes at most its <c>MaxBatchEvents</c>).</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>How long a tracked event may wait for others to share its request.</summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Events tracked but not yet sent or buffered that the client holds in memory; past it, <c>Track</c> drops and counts.</summary>
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>The SQLite file that keeps events while Tally is unreachable. One file per running client.</summary>
    public string BufferPath { get; set; } = "tally-buffer.db";

    /// <summary>The most events the buffer keeps; then <see cref="WhenBufferFull"/> decides.</summary>
    public long BufferMaxEvents { get; set; } = 1_000_000;

    public BufferFullPolicy WhenBufferFull { get; set; } = BufferFullPolicy.DropNewest;

    public OfflineAccessPolicy OfflineAccess { get; set; } = OfflineAccessPolicy.FailClosed;

    /// <summary>With <see cref="OfflineAccessPolicy.FailOpen"/>: the minutes of local units the client may grant until Tally has its report.</summary>
    public int OfflineGraceMinutes { get; set; } = 60;

    /// <summary>The unit the client counts offline grants in; the license's unit (6 minutes unless the vendor changed it).</summary>
    public int UnitMinutes { get; set; } = 6;

    /// <summary>How long an offline denial tells the user to wait (<c>RetryAfter</c>).</summary>
    public TimeSpan OfflineRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The whole budget of an online access check, retries included; past it the check is decided offline.</summary>
    public TimeSpan AccessTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Retries of one request after a transient failure (5xx, 429, timeouts, refused connections), with jittered exponential delays.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's median delay; later ones double.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between attempts to deliver the buffer while Tally stays unreachable.</summary>
    public TimeSpan MaxResendDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>This client's name in offline reports (default: the machine name).</summary>
    public string? ClientName { get; set; }

    /// <summary>Every problem with the options, one sentence each; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (BaseAddress is null || !BaseAddress.IsAbsoluteUri || BaseAddress.Scheme is not ("http" or "https"))
        {
            problems.Add("Tally:BaseAddress must be an absolute http or https address, e.g. http://localhost:5000/.");
        }
        if (string.IsNullOrWhiteSpace(ApiKey))
        {
            problems.Add("Tally:ApiKey is required: an ingest key of the tenant (read or admin for reports and admin calls).");
        }
        if (BatchSize is < 1 or > 1000)
        {
            problems.Add("Tally:BatchSize must be between 1 and 1000.");
        }
        if (Linger < TimeSpan.Zero || Linger > TimeSpan.FromMinutes(1))
        {
            problems.Add("Tally:Linger must be between 0 and 1 minute.");
        }
        if (QueueCapacity < 1)
        {
            problems.Add("Tally:QueueCapacity must be at least 1.");
        }
        if (string.IsNullOrWhiteSpace(BufferPath))
        {
            problems.Add("Tally:BufferPath must name a file.");
        }
        if (BufferMaxEvents < 1)
        {
            problems.Add("Tally:BufferMaxEvents must be at least 1.");
        }
        if (OfflineGraceMinutes < 0)
        {
            problems.Add("Tally:OfflineGraceMinutes must not be negative.");
        }
        if (UnitMinutes < 1)
        {
            problems.Add("Tally:UnitMinutes must be at least 1.");
        }
        if (AccessTimeout <= TimeSpan.Zero || RetryDelay < TimeSpan.Zero || MaxResendDelay <= TimeSpan.Zero || OfflineRetryAfter < TimeSpan.Zero)
        {
            problems.Add("Tally:AccessTimeout and Tally:MaxResendDelay must be positive; Tally:RetryDelay and Tally:OfflineRetryAfter must not be negative.");
        }
        if (MaxRetries is < 0 or > 10)
        {
            problems.Add("Tally:MaxRetries must be between 0 and 10.");
        }
        return problems;
    }
}
