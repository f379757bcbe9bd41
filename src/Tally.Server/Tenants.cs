using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Tally.Licensing;
using Tally.Storage;

namespace Tally.Server;

/// <summary>Every tenant's writer, created on first use (or at start for tenants with a ledger) and disposed on shutdown.</summary>
public sealed class Tenants : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<TenantWriter>> _writers = new(StringComparer.Ordinal);
    private readonly ILedgerStore store;
    private readonly TimeProvider time;
    private readonly IOptions<TallyOptions> options;
    private readonly LicenseVerifierHolder verifier;
    private readonly TallyMetrics metrics;
    private readonly WriterThreads threads;

    private readonly Monitoring.ICommitObserver? observer;

    public Tenants(ILedgerStore store, TimeProvider time, IOptions<TallyOptions> options, LicenseVerifierHolder verifier, TallyMetrics metrics, Monitoring.ICommitObserver? observer = null)
    {
        this.observer = observer;
        this.store = store;
        this.time = time;
        this.options = options;
        this.verifier = verifier;
        this.metrics = metrics;
        Clustered = options.Value.Cluster.Enabled;
        threads = new WriterThreads(options.Value.WriterThreads > 0 ? options.Value.WriterThreads : Environment.ProcessorCount);
        metrics.ObservePools(() => _writers.Values.Where(w => w.IsValueCreated).Select(w => w.Value));
    }

    public bool Ready { get; private set; }

    /// <summary>
    /// Whether this node is one of a cluster (<c>tally serve --cluster</c>): then a tenant's writer lives only on the node
    /// whose grain owns the tenant, made by <see cref="Own"/> and let go by <see cref="ReleaseAsync"/>.
    /// </summary>
    public bool Clustered { get; }

    /// <summary>
    /// Rebuilds every tenant's meter from the ledger; /health/ready answers 200 after this. A cluster node rebuilds none:
    /// each tenant's grain rebuilds its meter where it is activated.
    /// </summary>
    public void RebuildAll()
    {
        if (!Clustered)
        {
            foreach (var tenant in store.Tenants())
            {
                _ = Writer(tenant.Id);
            }
        }
        Ready = true;
    }

    /// <summary>
    /// The tenant's writer. A single node makes it on first use; a cluster node has it only while it owns the tenant,
    /// and otherwise throws <see cref="TenantElsewhereException"/> (a 503 to retry: the request was routed just as the
    /// tenant moved).
    /// </summary>
    public TenantWriter Writer(string tenant) => !Clustered ? Own(tenant) : Held(tenant) ?? throw new TenantElsewhereException(tenant);

    /// <summary>Whether this node serves the tenant's writer now (always on a single node).</summary>
    public bool Serves(string tenant) => !Clustered || Held(tenant) is not null;

    /// <summary>The tenant's writer if this node has made it (not one still being made, and never making one).</summary>
    private TenantWriter? Held(string tenant) => _writers.TryGetValue(tenant, out var held) && held.IsValueCreated ? held.Value : null;

    /// <summary>
    /// Makes (or returns) the tenant's writer here: it claims the tenant's ledger, which fences any earlier owner, then
    /// rebuilds the meter from the ledger. In a cluster only the tenant's grain activation calls this.
    /// </summary>
    public TenantWriter Own(string tenant) =>
        _writers.GetOrAdd(tenant, id => new Lazy<TenantWriter>(() => WithCalendar(Observing(
            new TenantWriter(id, store, time, (key, plan) => TenantConfig.FromStored(key, plan, verifier.For(id)), options.Value.MaxGroupCommitEvents, threads, metrics,
                options.Value.IdempotencyWindow is { Ticks: > 0 } window ? window : null) { Observer = observer, OnFenced = Fenced })))).Value;

    /// <summary>A fenced writer (another owner claimed its tenant) is dropped: this node no longer serves the tenant.</summary>
    private void Fenced(TenantWriter writer)
    {
        if (_writers.TryGetValue(writer.Tenant, out var held) && held.IsValueCreated && ReferenceEquals(held.Value, writer)
            && _writers.TryRemove(KeyValuePair.Create(writer.Tenant, held)))
        {
            _ = Task.Run(async () => await writer.DisposeAsync().ConfigureAwait(false));
        }
    }

    /// <summary>Lets the tenant's writer go once what it has queued is committed (its grain is deactivating); later requests go elsewhere.</summary>
    public async Task ReleaseAsync(string tenant)
    {
        if (_writers.TryRemove(tenant, out var writer) && writer.IsValueCreated)
        {
            await writer.Value.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>How many tenants' writers this node holds now (a cluster node: the tenants it owns).</summary>
    public int Count => _writers.Values.Count(w => w.IsValueCreated);

    /// <summary>
    /// The id of the license in force for <paramref name="tenant"/>: its writer's when this node holds it, else the
    /// stored license as verified (in force once stored: an install reconfigures the owner before it answers).
    /// </summary>
    public string? LicenseIdInForce(string tenant) =>
        Held(tenant) is { } held ? held.Snapshot.Config.License?.LicenseId
        : store.GetLicense(tenant)?.Key is { } key && verifier.For(tenant)?.VerifyAuthentic(key) is { IsValid: true } verified ? verified.Terms!.LicenseId
        : null;

    /// <summary>Gives a starting writer the tenant's stored working calendar (issue 16), or the default when it never chose one.</summary>
    private TenantWriter WithCalendar(TenantWriter writer)
    {
        writer.CalendarSetting = store.GetWorkCalendar(writer.Tenant) ?? WorkCalendarSetting.Default;
        return writer;
    }

    /// <summary>
    /// Sets whether the writer's tenant observes a source, and the pool and seats its sources last reported (R13), from the
    /// sources as stored: when the writer starts, whenever a source is added, given again or removed, and after each pull.
    /// </summary>
    public TenantWriter Observing(TenantWriter writer)
    {
        var sources = store.Sources(writer.Tenant);
        writer.Observing = sources.Count > 0;
        writer.ObservedPool = Import.SourceSync.PoolOf(sources);
        // A metered tenant (no sources, the usual case) costs no second query when its writer starts.
        writer.ObservedSeats = sources.Count == 0 ? [] : Import.SourceSync.SeatsOf(store.SourceSeats(writer.Tenant));
        writer.SourcesStamp = Import.SourceSync.StampOf(sources);
        return writer;
    }

    /// <summary>The threads the writers run on.</summary>
    public int WriterThreadCount => threads.Count;

    /// <summary>
    /// Puts to sleep every writer idle for at least <paramref name="idleFor"/> (<see cref="TallyOptions.SleepIdleTenantsAfter"/>):
    /// its meter is let go and rebuilt from the ledger when its next work arrives. Returns how many were put to sleep.
    /// </summary>
    public async Task<int> SleepIdleAsync(TimeSpan idleFor)
    {
        var idle = _writers.Values.Where(w => w.IsValueCreated && w.Value.IsAwake && w.Value.IdleFor >= idleFor).Select(w => w.Value).ToList();
        foreach (var writer in idle)
        {
            await writer.SleepAsync().ConfigureAwait(false);
        }
        return idle.Count;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers.Values.Where(w => w.IsValueCreated))
        {
            await writer.Value.DisposeAsync().ConfigureAwait(false);
        }
        threads.Dispose();
    }
}

/// <summary>The vendor public key, loaded once at start from <see cref="TallyOptions.PublicKey"/>; null when none is configured.</summary>
public sealed class LicenseVerifierHolder : IDisposable
{
    private readonly System.Security.Cryptography.ECDsa? _key;

    private readonly Dictionary<string, LicenseVerifier> _byTenant;

    /// <param name="options">Names the vendor public key file.</param>
    /// <param name="trusted">Tenants whose licenses another key signs (the demo tenant: see Demo/DemoSetup.cs).</param>
    public LicenseVerifierHolder(IOptions<TallyOptions> options, IEnumerable<TenantKeyTrust> trusted)
    {
        _byTenant = trusted.ToDictionary(t => t.Tenant, t => t.Verifier, StringComparer.Ordinal);
        if (options.Value.PublicKey is { Length: > 0 } path)
        {
            var imported = SigningKeys.ImportPublicKey(File.ReadAllText(path));
            _key = imported.Value
                ?? throw new OptionsValidationException(nameof(TallyOptions.PublicKey), typeof(TallyOptions), [$"Tally:PublicKey (--public-key) '{path}' is not a usable public key: {imported.Error}."]);
            Verifier = new LicenseVerifier(_key);
        }
    }

    public LicenseVerifier? Verifier { get; }

    /// <summary>The verifier for <paramref name="tenant"/>'s license: its own trusted key if it has one, else the vendor key.</summary>
    public LicenseVerifier? For(string tenant) => _byTenant.TryGetValue(tenant, out var own) ? own : Verifier;

    public void Dispose() => _key?.Dispose();
}
