using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tally.Import;
using Tally.Metering;
using Tally.Storage;

namespace Tally.Server.Import;

/// <summary>Builds the client of a stored source (its kind's <see cref="IUsageSource"/>) with its opened secret.</summary>
public interface ISourceClients
{
    IUsageSource Create(SourceRecord source, string? secret);
}

/// <summary>What one pull did, for the API and the status.</summary>
public sealed record PullReport(long Added, long Repeated, IReadOnlyList<string> Conflicts, string? Failure, string? Error, long Rejected, string? Rejection);

/// <summary>
/// Keeps every enabled source in sync (rule R13): pulls each when its interval is up, and on demand. A pull reads the
/// source's license (its pool governs the tenant's reports and alerts), then the records from the watermark less <see cref="ImportOptions.Overlap"/> (so late records are caught), hands them to the
/// tenant's writer in chunks (each chunk durable, each record once per source), and only then moves the watermark: a pull that fails half-way keeps what it recorded and the next one reads the rest again,
/// where the records already held count as repeats. A refused credential (401, 403) stops the source until an admin
/// changes it. One pull per source at a time.
/// </summary>
public sealed class SourceSync(ILedgerStore store, Tenants tenants, ISourceClients clients, SecretBox secrets, TimeProvider time,
    IOptions<ImportOptions> options, Monitoring.AlertEvaluator alerts, ILogger<SourceSync> log, ITenantRouter? router = null) : BackgroundService
{
    private readonly ConcurrentDictionary<(string Tenant, string Id), SemaphoreSlim> _pulling = new();

    /// <summary>The associated data a source's secret is sealed with: it opens only for that tenant's source.</summary>
    public static string SecretContext(string tenant, string id) => $"import-source/{tenant}/{id}";

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var ticks = new PeriodicTimer(options.Value.SchedulerTick, time);
        do
        {
            var now = time.GetUtcNow();
            foreach (var (source, status) in store.Sources(null))
            {
                if (!source.Enabled)
                {
                    continue;
                }
                if (!tenants.Serves(source.Tenant))
                {
                    // A cluster pulls a source on the node that owns its tenant: wake the tenant's grain, wherever it
                    // lands, and that node's scheduler pulls it on its next tick.
                    router?.Wake(source.Tenant);
                }
                else if (status.LastAttempt is not { } last || now - last >= TimeSpan.FromSeconds(source.IntervalSeconds))
                {
                    _ = PullInBackground(source.Tenant, source.Id, stopping);
                }
            }
        }
        while (await ticks.WaitForNextTickAsync(stopping).ConfigureAwait(false));
    }

    private async Task PullInBackground(string tenant, string id, CancellationToken stopping)
    {
        try
        {
            await PullAsync(tenant, id, stopping, waitForRunning: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Pull of source {Source} of tenant {Tenant} failed unexpectedly", id, tenant);
        }
    }

    /// <summary>
    /// Pulls the source now; null when there is no such source (or, without <paramref name="waitForRunning"/>, when a
    /// pull of it is already running).
    /// </summary>
    public async Task<PullReport?> PullAsync(string tenant, string id, CancellationToken cancellation, bool waitForRunning = true)
    {
        var gate = _pulling.GetOrAdd((tenant, id), _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(waitForRunning ? Timeout.InfiniteTimeSpan : TimeSpan.Zero, cancellation).ConfigureAwait(false))
        {
            return null;
        }
        try
        {
            if (store.GetSource(tenant, id) is not { } found)
            {
                return null;
            }
            var report = await PullOnceAsync(found.Source, found.Status, cancellation).ConfigureAwait(false);
            // The tenant's pool, seats and sources stamp, from the sources as the pull left them (one place derives them).
            tenants.Observing(tenants.Writer(tenant));
            // Its source-failing rules see how the pull left it (a stopped source, one not read for hours).
            if (store.GetSource(tenant, id) is { } after)
            {
                alerts.SourceChecked(tenant, new Monitoring.SourceFacts(id, !after.Source.Enabled, after.Source.Created, after.Status.LastSuccess,
                    after.Status.Failure, after.Status.LastError));
            }
            return report;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<PullReport> PullOnceAsync(SourceRecord source, SourceStatus status, CancellationToken cancellation)
    {
        var started = time.GetUtcNow();
        var since = status.WatermarkTicks == 0
            ? started - options.Value.FirstPull
            : new DateTimeOffset(status.WatermarkTicks, TimeSpan.Zero) - options.Value.Overlap;
        var writer = tenants.Writer(source.Tenant);
        long added = 0, repeated = 0, rejected = 0, newest = status.WatermarkTicks;
        string? rejection = null;
        var conflicts = new List<string>();
        var chunkRecords = options.Value.ChunkRecords;
        var chunk = new List<ObservedRecordRow>(chunkRecords);
        // One chunk in the writer while the next is read from the source: the pull overlaps the source's pages with
        // the ledger's appends. The writer takes chunks in order, and the watermark moves only once all are durable.
        Task<ObserveOutcome>? writing = null;
        async Task Written()
        {
            if (writing is null)
            {
                return;
            }
            var outcome = await writing.ConfigureAwait(false);
            writing = null;
            (added, repeated) = (added + outcome.Added, repeated + outcome.Repeated);
            conflicts.AddRange(outcome.Conflicts);
        }
        async Task Flush()
        {
            await Written().ConfigureAwait(false);
            if (chunk.Count > 0)
            {
                writing = writer.ObserveAsync(source.Id, chunk);
                chunk = new List<ObservedRecordRow>(chunkRecords);
            }
        }
        try
        {
            using var usage = clients.Create(source, source.Secret is { } sealedSecret
                ? secrets.Open(sealedSecret, SecretContext(source.Tenant, source.Id)) : null);
            // The license first: the pool its usage is judged against (R13) is in place before the alerts see the usage.
            var license = await usage.LicenseAsync(cancellation).ConfigureAwait(false);
            if (Monitoring.ObservedPool.From(license) is { } pool)
            {
                writer.ObservedPool = pool;
            }
            // Then who holds a seat: kept with the status below, from which the advisor and the assignments read them.
            var seats = await usage.SeatsAsync(cancellation).ConfigureAwait(false);
            var position = 0;
            await foreach (var record in usage.RecordsSince(since, cancellation).ConfigureAwait(false))
            {
                position++;
                if (ObservedRecordCheck.Problem(record) is { } problem)
                {
                    // Set aside, not stored and not fatal: one unusable record must not hold back every one after it
                    // (the watermark could never pass it). The status names it; the records around it are kept.
                    rejected++;
                    rejection ??= $"record {position} ({Quote(record.RecordId)}): {problem}.";
                    continue;
                }
                chunk.Add(new ObservedRecordRow(record.RecordId, record.User, record.App, record.Session, record.EndTime.UtcTicks, record.Duration.Ticks,
                    record.Minutes, record.Units, record.LicenseUsage, record.Allotment));
                newest = Math.Max(newest, record.EndTime.UtcTicks);
                if (chunk.Count == chunkRecords)
                {
                    await Flush().ConfigureAwait(false);
                }
            }
            await Flush().ConfigureAwait(false);
            await Written().ConfigureAwait(false);
            store.RecordPull(source.Tenant, source.Id, new SourcePull(time.GetUtcNow(), true, null, null, newest, added, repeated, conflicts.Count,
                JsonSerializer.Serialize(license, JsonBody.Options), Stop: false, SeatsJson: JsonSerializer.Serialize(seats, JsonBody.Options), rejected, rejection));
            if (rejected > 0)
            {
                log.LogWarning("Pull of source {Source} of tenant {Tenant} set aside {Rejected} unusable records, the first: {Rejection}", source.Id, source.Tenant, rejected, rejection);
            }
            return new PullReport(added, repeated, conflicts, null, null, rejected, rejection);
        }
        catch (Exception e)
        {
            var (failure, error, stop) = Failed(e);
            // A chunk still in the writer is counted (or, if the writer failed it, it recorded nothing) before the status is.
            try
            {
                await Written().ConfigureAwait(false);
            }
            catch (Exception inFlight) when (inFlight is LedgerUnavailableException or ObjectDisposedException)
            {
                // That chunk recorded nothing; the failure that stopped the pull is the one its status gives.
            }
            // What was recorded before the failure stays; the watermark stays, so the next pull reads it again as repeats.
            store.RecordPull(source.Tenant, source.Id, new SourcePull(time.GetUtcNow(), false, failure, error, 0, added, repeated, conflicts.Count, null, stop,
                Rejected: rejected, Rejection: rejection));
            log.LogWarning("Pull of source {Source} of tenant {Tenant}: {Failure}: {Error}", source.Id, source.Tenant, failure, error);
            return new PullReport(added, repeated, conflicts, failure, error, rejected, rejection);
        }
    }

    /// <summary>The status a failed pull leaves (kind, message, whether the source stops).</summary>
    private static (string Failure, string Error, bool Stop) Failed(Exception e) => e switch
    {
        SourceException s => (s.Failure.ToString(), s.Message, s.Failure is SourceFailure.Unauthorized or SourceFailure.Forbidden),
        LedgerUnavailableException => ("Ledger", "The ledger could not record the records; the next pull reads them again.", false),
        System.Security.Cryptography.CryptographicException => ("Secret", "The source's secret does not open with this server's secrets key (Tally:SecretsKeyFile): enter it again.", true),
        // The server is stopping: what the pull recorded is counted, and the next pull (after the restart) reads the rest.
        OperationCanceledException => ("Cancelled", "The pull was cut short because the server stopped; what it recorded stays, and the next pull reads the rest.", false),
        _ => ("Error", e.GetType().Name + ": " + e.Message, false),
    };

    /// <summary>The pool the tenant's sources last reported (the first that reported one), for a writer that starts.</summary>
    public static Monitoring.ObservedPool? PoolOf(IReadOnlyList<(SourceRecord Source, SourceStatus Status)> sources) =>
        sources.Select(s => s.Status.LicenseJson is { } json ? Monitoring.ObservedPool.From(JsonSerializer.Deserialize<ObservedLicense>(json, JsonBody.Options)) : null)
            .FirstOrDefault(pool => pool is not null);

    /// <summary>What changes when a source is added, removed or pulled (whatever the pull did), or null without sources: a short hash.</summary>
    public static string? StampOf(IReadOnlyList<(SourceRecord Source, SourceStatus Status)> sources) =>
        sources.Count == 0 ? null : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n',
            sources.Select(s => $"{s.Source.Id} {s.Source.Enabled} {s.Status.LastAttempt?.UtcTicks} {s.Status.Records} {s.Status.Failure}")))).AsSpan(0, 8));

    /// <summary>
    /// The seats of a tenant's sources as stored (<see cref="ISourceCatalog.SourceSeats"/>): one per user, the first
    /// source's (by id) when two name the same user; a type other than professional or analyzer is no seat Tally knows.
    /// </summary>
    public static IReadOnlyList<SeatAssignment> SeatsOf(IReadOnlyList<(string Source, string SeatsJson)> stored)
    {
        var seats = new Dictionary<string, SeatAssignment>(StringComparer.Ordinal);
        foreach (var (_, json) in stored)
        {
            foreach (var seat in JsonSerializer.Deserialize<List<ObservedSeat>>(json, JsonBody.Options) ?? [])
            {
                if (AllocationNames.FromWire(seat.Type) is var held && held.IsSeat() && seat.User.Length > 0)
                {
                    // Explicit: the source assigned it; seen and not in excess: Tally cannot tell otherwise of another's seat.
                    seats.TryAdd(seat.User, new SeatAssignment(seat.User, held, seat.Since ?? DateTimeOffset.UnixEpoch, Explicit: true, Seen: true, Excess: false));
                }
            }
        }
        return [.. seats.Values];
    }

    /// <summary>A record id as the status and the log show it: at most 64 characters, control characters as \uXXXX (it is the source's text, not ours).</summary>
    private static string Quote(string text)
    {
        var cut = text.Length <= 64 ? text : text[..64];
        var shown = string.Concat(cut.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));
        return cut.Length < text.Length ? $"'{shown}…'" : $"'{shown}'";
    }
}
