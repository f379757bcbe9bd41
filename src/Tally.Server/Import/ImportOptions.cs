using Microsoft.Extensions.Options;
using Tally.Import;

namespace Tally.Server.Import;

/// <summary>The import's settings (<c>Tally:Import</c>).</summary>
public sealed class ImportOptions
{
    public const string Section = "Tally:Import";

    /// <summary>How far back the first pull of a new source reads.</summary>
    public TimeSpan FirstPull { get; set; } = TimeSpan.FromDays(62);

    /// <summary>
    /// Records handed to the tenant's writer at a time: each chunk is one durable transaction, and what a failed pull
    /// recorded. One chunk is written while the next is read.
    /// </summary>
    public int ChunkRecords { get; set; } = 1000;

    /// <summary>How far before the watermark each pull starts again, to catch records the source reports late.</summary>
    public TimeSpan Overlap { get; set; } = TimeSpan.FromHours(6);

    /// <summary>How often the scheduler looks for sources due.</summary>
    public TimeSpan SchedulerTick { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The pull interval of a source that names none.</summary>
    public TimeSpan DefaultInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Retries of a failing request within a pull (429, 5xx, time-outs, broken connections), after waits growing from <see cref="RetryDelay"/>.</summary>
    public int Retries { get; set; } = SourceRetry.Default.MaxRetries;

    public TimeSpan RetryDelay { get; set; } = SourceRetry.Default.FirstDelay;

    /// <summary>How long one request may take before it counts as failed (and is retried).</summary>
    public TimeSpan AttemptTimeout { get; set; } = SourceRetry.Default.AttemptTimeout;

    /// <summary>The retry settings the source clients use.</summary>
    public SourceRetry Retry => new(Retries, RetryDelay, SourceRetry.Default.MaxDelay, AttemptTimeout);

    /// <summary>Whether a source may be on a private, loopback or link-local address (an on-premises QSEoW site); off, only public addresses.</summary>
    public bool AllowPrivateTargets { get; set; }
}

/// <summary>Refuses, at start, import settings that would stall or break every pull, naming each.</summary>
internal sealed class ImportOptionsValidator : IValidateOptions<ImportOptions>
{
    public ValidateOptionsResult Validate(string? name, ImportOptions options)
    {
        var problems = new List<string>();
        void Positive(string setting, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add($"{ImportOptions.Section}:{setting} must be positive.");
            }
        }
        Positive(nameof(options.FirstPull), options.FirstPull);
        Positive(nameof(options.SchedulerTick), options.SchedulerTick);
        if (options.DefaultInterval < TimeSpan.FromMinutes(1) || options.DefaultInterval > TimeSpan.FromDays(1))
        {
            problems.Add($"{ImportOptions.Section}:DefaultInterval must be between 00:01:00 and 1.00:00:00, as a source's own interval.");
        }
        Positive(nameof(options.RetryDelay), options.RetryDelay);
        Positive(nameof(options.AttemptTimeout), options.AttemptTimeout);
        if (options.Overlap < TimeSpan.Zero)
        {
            problems.Add($"{ImportOptions.Section}:Overlap must not be negative.");
        }
        if (options.Retries is < 0 or > 20)
        {
            problems.Add($"{ImportOptions.Section}:Retries must be between 0 and 20.");
        }
        if (options.ChunkRecords is < 1 or > 10_000)
        {
            problems.Add($"{ImportOptions.Section}:ChunkRecords must be between 1 and 10000.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
