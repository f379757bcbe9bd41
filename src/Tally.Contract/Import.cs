namespace Tally.Contract;

/// <summary>
/// <c>POST /api/v1/sources</c>: a source of observed usage (rule R13). <c>Kind</c> <c>qlik-cloud</c> (with the tenant
/// <c>Url</c> and an <c>ApiKey</c>) or <c>qseow</c> (with the QRS <c>Url</c> and a client <c>Certificate</c>, or a
/// virtual proxy's <c>Header</c>). Secrets are sealed at rest and never returned.
/// </summary>
public sealed record CreateSourceRequest(
    string? Id, string? Kind, string? Url, string? ApiKey, SourceCertificate? Certificate, SourceHeader? Header, string? TrustedCaPem,
    string? QrsUser, int? IntervalSeconds);

/// <summary>A client certificate: a PFX (base64) with its password, or a PEM certificate and its PEM key.</summary>
public sealed record SourceCertificate(string? Pfx, string? Password, string? CertificatePem, string? KeyPem);

/// <summary>Header authentication through a QSEoW virtual proxy: the header's name and the user it names.</summary>
public sealed record SourceHeader(string? Name, string? Value);

/// <summary>A source as listed: never its secret, only whether it has one.</summary>
public sealed record SourceView(string Id, string Kind, string Url, int IntervalSeconds, bool Enabled, bool HasSecret, DateTimeOffset Created, SourceStatusView Status);

/// <summary>
/// How a source is doing. <c>State</c>: <c>new</c> (never pulled), <c>ok</c>, <c>failing</c> (the last pull failed;
/// it is retried at the next interval) or <c>stopped</c> (a refused credential: an admin must fix it). <c>Watermark</c>:
/// the newest record end taken in; <c>LagSeconds</c>: how far that is behind now. <c>Rejected</c>: records the last
/// pull set aside as unusable (not stored; the pull went on past them), <c>LastRejection</c> the first one's position,
/// id and reason.
/// </summary>
public sealed record SourceStatusView(
    string State, DateTimeOffset? LastAttempt, DateTimeOffset? LastSuccess, DateTimeOffset? Watermark, long? LagSeconds, long Records, long Repeats,
    long Conflicts, string? Failure, string? LastError, long Rejected, string? LastRejection);

/// <summary>
/// What a pull did: records added, records already held, records seen again changed (the first version stays), records
/// set aside as unusable (the first one's position, id and reason), and why it failed.
/// </summary>
public sealed record PullResult(long Added, long Repeated, long Conflicts, string? Failure, string? Error, long Rejected, string? Rejection);
