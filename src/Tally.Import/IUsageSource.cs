namespace Tally.Import;

/// <summary>
/// One source of observed usage: a Qlik Cloud tenant or a QSEoW site. Every call is one complete read (paging to the
/// end inside) or throws <see cref="SourceException"/>; transient failures (429 with its Retry-After, 5xx, time-outs,
/// reset connections) are retried inside before that, so an exception means the read did not happen. Disposing it
/// lets go of its connections.
/// </summary>
public interface IUsageSource : IDisposable
{
    /// <summary>
    /// The records the source reports as ended (or, where the source filters so, changed) at or after
    /// <paramref name="since"/>, in the source's order. The caller overlaps <paramref name="since"/> with what it already
    /// holds, so late records are caught; it drops what it has seen (records are unique per source).
    /// </summary>
    IAsyncEnumerable<ObservedRecord> RecordsSince(DateTimeOffset since, CancellationToken cancellation);

    /// <summary>The source's license as it stands (pool, overage, seats, validity).</summary>
    Task<ObservedLicense> LicenseAsync(CancellationToken cancellation);

    /// <summary>Who holds a seat now.</summary>
    Task<IReadOnlyList<ObservedSeat>> SeatsAsync(CancellationToken cancellation);
}

/// <summary>Why a source could not be read, for its status: a clear reason the admin can act on.</summary>
public enum SourceFailure
{
    /// <summary>The key or certificate was refused (401): the source stops until it is fixed.</summary>
    Unauthorized,
    /// <summary>Authenticated, but not allowed to read this (403): a permission is missing.</summary>
    Forbidden,
    /// <summary>Nothing of the expected API at that address (404, or an answer that is not the API's).</summary>
    NotFound,
    /// <summary>The source answered something this client cannot read (the position and reason are in the message).</summary>
    BadResponse,
    /// <summary>No answer: DNS, connection refused, TLS (an expired or untrusted certificate), time-outs after the retries.</summary>
    Unreachable,
}

/// <summary>A read of a source that failed after its retries; <see cref="Failure"/> says what the admin should look at.</summary>
public sealed class SourceException(SourceFailure failure, string message, Exception? inner = null) : Exception(message, inner)
{
    public SourceFailure Failure { get; } = failure;

    /// <summary>Whether pulling again later can help without the admin changing anything.</summary>
    public bool IsTransient => Failure is SourceFailure.Unreachable;
}
