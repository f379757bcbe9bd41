using System.Globalization;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Tally.Import.Qrs;

/// <summary>
/// A Qlik Sense Enterprise on Windows site read through its Repository Service API (QRS): analyzer-capacity uses become
/// observed records, the analyzer time access type is the pool, professional and analyzer allocations are the seats.
/// Every request carries a fresh Xrfkey and the configured identity; the server's certificate is always validated.
/// </summary>
public sealed class QrsSource : IUsageSource, IDisposable
{
    /// <summary>QSEoW charges analyzer capacity in units of six minutes; each started unit counts whole.</summary>
    internal static readonly TimeSpan UnitLength = TimeSpan.FromMinutes(6);

    private const string XrfkeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private readonly HttpClient _client;
    private readonly Uri _root;
    private readonly QrsCertificateAuthentication? _certificate;
    private readonly TimeProvider _time;
    private readonly TimeSpan _usageWindow;
    private string? _serverCertificateProblem;
    private bool _serverAskedForCertificate;

    /// <param name="options">Where the QRS is and how to sign in.</param>
    /// <param name="time">The clock the retries wait on.</param>
    /// <param name="retry">How hard to retry (<see cref="SourceRetry.Default"/> when null).</param>
    /// <param name="connect">How connections are opened: the server passes its address rule, so a tenant admin cannot aim a
    /// source at the server's own network unless the operator allows private addresses; null: directly.</param>
    public QrsSource(QrsOptions options, TimeProvider time, SourceRetry? retry = null,
        Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null)
    {
        options.Validate();
        _root = options.Root;
        _time = time;
        _usageWindow = options.UsageWindow;
        _certificate = options.Authentication as QrsCertificateAuthentication;
        _client = SourceHttp.Create(CreateHandler(options, connect), time, retry);
        switch (options.Authentication)
        {
            case QrsCertificateAuthentication certificate:
                _client.DefaultRequestHeaders.Add("X-Qlik-User", certificate.UserHeader);
                break;
            case QrsHeaderAuthentication header:
                _client.DefaultRequestHeaders.Add(header.HeaderName, header.User);
                break;
        }
    }

    /// <summary>
    /// The uses changed at or after <paramref name="since"/> (the QRS's modifiedDate, which moves when a use ends), of
    /// which only the ended ones are records: a running use has no stop time yet and would change after import. Read
    /// one <see cref="QrsOptions.UsageWindow"/> of modification time at a time (the QRS does not page), the last window
    /// open-ended so a use the site's clock dates after Tally's is still read. A use modified again during the read
    /// only moves to a later window: it may come twice (the caller drops repeats), never not at all.
    /// </summary>
    public async IAsyncEnumerable<ObservedRecord> RecordsSince(DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellation)
    {
        static string Instant(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var now = _time.GetUtcNow();
        for (var from = since; ; from += _usageWindow)
        {
            var to = from + _usageWindow;
            var last = to > now;
            var filter = $"modifiedDate ge '{Instant(from)}'" + (last ? "" : $" and modifiedDate lt '{Instant(to)}'");
            var uses = await ReadAsync<List<QrsAnalyzerTimeUsage>>("license/analyzertimeaccessusage/full", filter, "QRS analyzer time usage", cancellation)
                .ConfigureAwait(false);
            foreach (var use in uses)
            {
                if (ToRecord(use) is { } record)
                {
                    yield return record;
                }
            }
            if (last)
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// The analyzer-capacity pool: assigned and used minutes, summed over the site's analyzer time access types (there is
    /// normally one). The QRS does not tell overage, seat totals or validity here, so those stay unknown.
    /// </summary>
    public async Task<ObservedLicense> LicenseAsync(CancellationToken cancellation)
    {
        var pools = await ReadAsync<List<QrsAnalyzerTimeAccessType>>("license/analyzertimeaccesstype/full", null, "QRS analyzer time access type", cancellation)
            .ConfigureAwait(false);
        long? Sum(Func<QrsAnalyzerTimeAccessType, long?> minutes) =>
            pools.Count == 0 || pools.All(p => minutes(p) is null) ? null : pools.Sum(p => minutes(p) ?? 0);
        return new ObservedLicense(Sum(p => p.AssignedMinutes), Sum(p => p.UsedMinutes), null, null, null, null, null, null);
    }

    /// <summary>Professional then analyzer allocations; a quarantined one is being released, so its user holds no seat.</summary>
    public async Task<IReadOnlyList<ObservedSeat>> SeatsAsync(CancellationToken cancellation)
    {
        var professional = await ReadAsync<List<QrsUserAccessType>>("license/professionalaccesstype/full", null, "QRS professional access", cancellation)
            .ConfigureAwait(false);
        var analyzer = await ReadAsync<List<QrsUserAccessType>>("license/analyzeraccesstype/full", null, "QRS analyzer access", cancellation)
            .ConfigureAwait(false);
        return [.. Seats(professional, "professional"), .. Seats(analyzer, "analyzer")];
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// One ended use as the record QSEoW charged: minutes are the started six-minute units between its start and stop
    /// (at least one, since opening an app starts a unit). Null while the use is still running.
    /// </summary>
    internal static ObservedRecord? ToRecord(QrsAnalyzerTimeUsage use)
    {
        if (Set(use.UseStopTime) is not { } stop)
        {
            return null;
        }
        var start = Set(use.UseStartTime) ?? Set(use.CreatedDate) ?? stop;
        var duration = stop > start ? stop - start : TimeSpan.Zero;
        var units = Math.Max(1, (long)Math.Ceiling(duration / UnitLength));
        var id = use.Id.ToString("D");
        var session = use.Sessions?.Select(s => s.SessionID).FirstOrDefault(s => !string.IsNullOrEmpty(s)) ?? id;
        // A use that names nobody still used the pool: it is kept under a name that says so, not dropped or refused.
        var user = UserName(use.User?.UserDirectory, use.User?.UserId) is { Length: > 0 } named ? named : UnknownUser;
        return new ObservedRecord(id, user, "", session, stop, duration,
            units * (long)UnitLength.TotalMinutes, units, "time", use.AnalyzerTimeAccessType?.Name);
    }

    private static IEnumerable<ObservedSeat> Seats(IEnumerable<QrsUserAccessType> allocations, string type) =>
        allocations
            .Where(a => a.Quarantined is not true)
            .Select(a => new ObservedSeat(
                a.User is { } user ? UserName(user.UserDirectory, user.UserId) : UserName(a.DeletedUserDirectory, a.DeletedUserId), type, Set(a.CreatedDate)));

    /// <summary>A user as QSEoW writes one: <c>DIRECTORY\userid</c> (empty when the QRS names nobody).</summary>
    /// <summary>The user of a usage the QRS names nobody for.</summary>
    public const string UnknownUser = "(unknown user)";

    private static string UserName(string? directory, string? id) =>
        string.IsNullOrEmpty(directory) && string.IsNullOrEmpty(id) ? "" : $"{directory}\\{id}";

    /// <summary>
    /// A QRS date that is set: the repository writes an unset one as SQL Server's smallest date (1753-01-01), not null.
    /// </summary>
    private static DateTimeOffset? Set(DateTimeOffset? at) => at is { Year: > 1753 } ? at : null;

    private async Task<T> ReadAsync<T>(string path, string? filter, string what, CancellationToken cancellation)
    {
        // A fresh key per request: the QRS only checks that the parameter and the header agree.
        var xrfkey = RandomNumberGenerator.GetString(XrfkeyAlphabet, 16);
        var query = filter is null ? $"xrfkey={xrfkey}" : $"filter={Uri.EscapeDataString(filter)}&xrfkey={xrfkey}";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_root, $"qrs/{path}?{query}"));
        request.Headers.Add("X-Qlik-Xrfkey", xrfkey);
        try
        {
            return await SourceHttp.ReadJsonAsync<T>(_client, request, JsonSerializerOptions.Web, what, cancellation).ConfigureAwait(false);
        }
        catch (SourceException e) when (e.Failure is SourceFailure.Unreachable && BrokenHandshake(e))
        {
            throw Explained(e);
        }
    }

    /// <summary>
    /// A connection the TLS layer broke: the handshake failed, or (TLS 1.3, where the client certificate is checked
    /// after the client's side of the handshake is done) the server closed it before answering.
    /// </summary>
    private static bool BrokenHandshake(SourceException e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException or HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Says which side refused the connection. If this client refused the server's certificate, the admin must make its
    /// CA trusted; otherwise the server refused this client's certificate (unknown CA, expired) or its lack of one: that
    /// does not pass by itself, so it is <see cref="SourceFailure.Unauthorized"/>.
    /// </summary>
    private SourceException Explained(SourceException e)
    {
        if (Volatile.Read(ref _serverCertificateProblem) is { } problem)
        {
            return new SourceException(SourceFailure.Unreachable,
                $"{e.Message} The QRS's server certificate is not trusted ({problem}): trust the site's root CA (root.pem from the QMC export) " +
                "or install it in this machine's trust store.", e.InnerException);
        }
        if (_certificate is null)
        {
            if (!Volatile.Read(ref _serverAskedForCertificate))
            {
                return e;
            }
            return new SourceException(SourceFailure.Unauthorized,
                $"{e.Message} The server closed the TLS connection without answering: it wants a client certificate. The QRS port (4242) " +
                "needs the certificate exported from the QMC; header authentication needs the virtual proxy's address (https://host/prefix/).",
                e.InnerException);
        }
        var client = _certificate.ClientCertificate;
        var expiry = client.NotAfter.ToUniversalTime() < _time.GetUtcNow().UtcDateTime
            ? $" It expired on {client.NotAfter.ToUniversalTime():yyyy-MM-dd}: export a new one from the QMC."
            : " Export it again from the QMC of this site (it must be issued by the site's CA and still valid).";
        return new SourceException(SourceFailure.Unauthorized,
            $"{e.Message} The QRS refused the client certificate '{client.Subject}' (thumbprint {client.Thumbprint}) during the TLS handshake.{expiry}",
            e.InnerException);
    }

    private SocketsHttpHandler CreateHandler(QrsOptions options, Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect)
    {
        var ssl = new SslClientAuthenticationOptions();
        if (options.Trust is QrsServerTrust.CustomRootTrust custom)
        {
            // Chains must end at the site's CA and nowhere else; the host name is still checked. QSEoW's CA publishes
            // no revocation list, so asking for one would fail every handshake.
            ssl.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { custom.Root },
                RevocationMode = X509RevocationMode.NoCheck,
            };
        }
        if (options.Authentication is QrsCertificateAuthentication certificate)
        {
            ssl.ClientCertificates = [certificate.ClientCertificate];
            // Always offer the configured certificate, even when the server's list of acceptable issuers does not name
            // its CA: the server's refusal then says what is wrong, where a silent omission would not.
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate.ClientCertificate;
        }
        else
        {
            // No certificate to offer; noted only so a refused handshake can say the server wanted one. The TLS stack asks
            // once before the handshake (no server certificate yet) and again only if the server requests a certificate.
            ssl.LocalCertificateSelectionCallback = (_, _, _, serverCertificate, _) =>
            {
                Volatile.Write(ref _serverAskedForCertificate, serverCertificate is not null);
                return null!;
            };
        }
        // The default decision (accept only a certificate without errors under the policy above), remembered so a failed
        // handshake can say whether this side refused the server or the server refused this side.
        ssl.RemoteCertificateValidationCallback = (_, _, chain, errors) =>
        {
            var problem = errors is SslPolicyErrors.None ? null
                : chain is { ChainStatus.Length: > 0 } ? $"{errors}: {string.Join(", ", chain.ChainStatus.Select(s => s.Status))}"
                : errors.ToString();
            Volatile.Write(ref _serverCertificateProblem, problem);
            return problem is null;
        };
        return new SocketsHttpHandler { SslOptions = ssl, PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false, ConnectCallback = connect };
    }
}
