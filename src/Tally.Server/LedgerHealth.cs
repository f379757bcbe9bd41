using Microsoft.Extensions.Logging;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// Whether the ledger takes a write, for <c>/health/ready</c>: a server that can read but not write answers every
/// event with 503, so "ready" must mean writable. The check is a real (tiny) commit, so its answer is kept for
/// <see cref="CacheFor"/>: an orchestrator polling every few seconds costs one commit per poll at most, and a caller
/// hammering the anonymous route cannot queue commits behind the tenants' writers. The reason goes to the log (once
/// per change), not to the anonymous caller: it can name paths and hosts.
/// </summary>
public sealed class LedgerHealth(ILedgerLifecycle store, TimeProvider time, ILogger<LedgerHealth> log)
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;
    private bool _writable = true;

    public bool Writable()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (now - _checkedAt < CacheFor && now >= _checkedAt)
            {
                return _writable;
            }
            var problem = store.CheckWritable();
            if (problem is not null && _writable)
            {
                log.LogError("The ledger cannot be written; /health/ready answers 503 until it can: {Problem}", problem);
            }
            else if (problem is null && !_writable)
            {
                log.LogInformation("The ledger takes writes again; /health/ready answers 200.");
            }
            _writable = problem is null;
            _checkedAt = now;
            return _writable;
        }
    }
}
