using System.Security.Cryptography.X509Certificates;
using Tally.Import.Qrs;

namespace Tally.Import.Tests.Qrs;

/// <summary>
/// The QSEoW source against a strict QRS on a loopback HTTPS port, with certificates made for each test: what it reads
/// and how, and that every way the connection can be refused ends in a reason an admin can act on.
/// </summary>
public sealed class QrsSourceTests : IAsyncLifetime
{
    private static readonly SourceRetry Quick = new(2, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10));
    private static readonly DateTimeOffset Morning = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    /// <summary>A clock a few hours after <see cref="Morning"/>: a read from the morning is one window of usage, one request.</summary>
    private static readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider InTheAfternoon = new(Morning.AddHours(6));
    private readonly TestCertificates _certificates = new(TimeProvider.System.GetUtcNow());
    private QrsTestServer _server = null!;

    public async Task InitializeAsync() => _server = await QrsTestServer.StartWithCertificatesAsync(_certificates);

    private QrsSource Source(X509Certificate2 client, QrsServerTrust? trust = null, Uri? address = null, TimeProvider? time = null, TimeSpan? window = null)
    {
        var options = new QrsOptions(address ?? _server.BaseAddress, new QrsCertificateAuthentication(client), trust ?? QrsServerTrust.CustomRoot(_certificates.Root));
        return new(window is { } w ? options with { UsageWindow = w } : options, time ?? TimeProvider.System, Quick);
    }

    private static async Task<List<ObservedRecord>> All(IUsageSource source, DateTimeOffset since)
    {
        var records = new List<ObservedRecord>();
        await foreach (var record in source.RecordsSince(since, CancellationToken.None))
        {
            records.Add(record);
        }
        return records;
    }

    /// <summary>A read the connection refused: it fails with <paramref name="failure"/> and no request reached the QRS.</summary>
    private async Task<SourceException> Refused(QrsSource source, SourceFailure failure)
    {
        var e = await Assert.ThrowsAsync<SourceException>(() => source.LicenseAsync(CancellationToken.None));
        Assert.Equal(failure, e.Failure);
        Assert.Empty(_server.Seen);
        return e;
    }

    [Fact]
    public async Task RecordsSince_EndedUses_AreRecordsChargedInStartedSixMinuteUnits()
    {
        var fourteen = new TestUse(Guid.NewGuid(), Morning.AddMinutes(15), Morning, Morning.AddMinutes(14), "ACME", "jdoe", "5f0c1b2a-sess");
        var exactlySix = new TestUse(Guid.NewGuid(), Morning.AddMinutes(31), Morning.AddMinutes(20), Morning.AddMinutes(26), "ACME", "asmith", null);
        var halfAMinute = new TestUse(Guid.NewGuid(), Morning.AddMinutes(41), Morning.AddMinutes(40), Morning.AddMinutes(40.5), "ACME", "jdoe", "s-3");
        var running = new TestUse(Guid.NewGuid(), Morning.AddMinutes(50), Morning.AddMinutes(45), null, "ACME", "bob", "s-4");
        _server.Uses.AddRange([fourteen, exactlySix, halfAMinute, running]);
        using var source = Source(_certificates.Client);

        var records = await All(source, Morning.AddHours(-1));

        Assert.Equal(
        [
            new(fourteen.Id.ToString("D"), "ACME\\jdoe", "", "5f0c1b2a-sess", Morning.AddMinutes(14), TimeSpan.FromMinutes(14), 18, 3, "time", "Analyzer capacity"),
            new(exactlySix.Id.ToString("D"), "ACME\\asmith", "", exactlySix.Id.ToString("D"), Morning.AddMinutes(26), TimeSpan.FromMinutes(6), 6, 1, "time", "Analyzer capacity"),
            new(halfAMinute.Id.ToString("D"), "ACME\\jdoe", "", "s-3", Morning.AddMinutes(40.5), TimeSpan.FromSeconds(30), 6, 1, "time", "Analyzer capacity"),
        ], records);
    }

    [Fact]
    public void ToRecord_AUseWithoutAStopTime_IsNoRecordYet()
    {
        var running = new QrsAnalyzerTimeUsage(Guid.NewGuid(), Morning, Morning, Morning, null, Morning.AddMinutes(3),
            new QrsUser("ACME", "jdoe"), [], new QrsAccessTypeName("Analyzer capacity"));

        Assert.Null(QrsSource.ToRecord(running));
        Assert.NotNull(QrsSource.ToRecord(running with { UseStopTime = Morning.AddMinutes(3) }));
    }

    [Fact]
    public async Task RecordsSince_SendsTheWatermarkAsAQrsFilter_OnlyLaterChangesReturn()
    {
        var before = new TestUse(Guid.NewGuid(), Morning, Morning.AddMinutes(-10), Morning.AddMinutes(-5), "ACME", "early", null);
        var atTheMark = new TestUse(Guid.NewGuid(), Morning.AddHours(1), Morning.AddMinutes(50), Morning.AddMinutes(58), "ACME", "onthedot", null);
        var after = new TestUse(Guid.NewGuid(), Morning.AddHours(2), Morning.AddHours(1.5), Morning.AddHours(1.6), "ACME", "late", null);
        _server.Uses.AddRange([before, atTheMark, after]);
        // Read within a day of the watermark: one window, open-ended.
        using var source = Source(_certificates.Client, time: InTheAfternoon);

        var records = await All(source, Morning.AddHours(1));

        Assert.Equal([atTheMark.Id.ToString("D"), after.Id.ToString("D")], records.Select(r => r.RecordId));
        Assert.Equal("modifiedDate ge '2026-11-02T10:00:00.000Z'", Assert.Single(_server.Seen).Filter);
    }

    [Fact]
    public async Task RecordsSince_ReadsOneWindowOfModificationTimeAtATime_TheLastOpen_EachUseOnce()
    {
        TestUse Modified(DateTimeOffset at, string user) => new(Guid.NewGuid(), at, at.AddMinutes(-20), at.AddMinutes(-10), "ACME", user, null);
        var uses = new[]
        {
            Modified(Morning.AddMinutes(30), "first"),
            Modified(Morning.AddHours(1), "onTheBoundary"),                // the second window's start, not the first's end
            Modified(Morning.AddHours(3).AddMilliseconds(-1), "lastOfThird"),
            Modified(Morning.AddHours(3).AddMinutes(10), "inTheOpenWindow"),
            Modified(Morning.AddHours(5), "aheadOfTallysClock"),           // the site's clock is ahead: the open window still reads it
        };
        _server.Uses.AddRange(uses);
        using var source = Source(_certificates.Client, time: new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Morning.AddHours(3.5)), window: TimeSpan.FromHours(1));

        var records = await All(source, Morning);

        Assert.Equal(uses.Select(u => u.Id.ToString("D")), records.Select(r => r.RecordId));
        Assert.Equal(
        [
            "modifiedDate ge '2026-11-02T09:00:00.000Z' and modifiedDate lt '2026-11-02T10:00:00.000Z'",
            "modifiedDate ge '2026-11-02T10:00:00.000Z' and modifiedDate lt '2026-11-02T11:00:00.000Z'",
            "modifiedDate ge '2026-11-02T11:00:00.000Z' and modifiedDate lt '2026-11-02T12:00:00.000Z'",
            "modifiedDate ge '2026-11-02T12:00:00.000Z'",
        ], _server.Seen.Select(s => s.Filter));
    }

    [Fact]
    public async Task EveryRequest_CarriesAFreshXrfkeyTwice_AndTheServiceUser()
    {
        // Usage read within a window of the clock: one request for it.
        using var source = Source(_certificates.Client, time: InTheAfternoon);

        await source.LicenseAsync(CancellationToken.None);
        await source.SeatsAsync(CancellationToken.None);
        await All(source, Morning);

        var seen = _server.Seen.ToList();
        Assert.Equal(4, seen.Count);
        Assert.All(seen, r =>
        {
            Assert.Equal(r.XrfkeyParameter, r.XrfkeyHeader);
            Assert.Matches("^[0-9A-Za-z]{16}$", r.XrfkeyParameter);
            Assert.Equal("UserDirectory=INTERNAL; UserId=sa_repository", r.QlikUser);
            Assert.True(r.HadClientCertificate);
        });
        Assert.Equal(4, seen.Select(r => r.XrfkeyParameter).Distinct().Count());
    }

    [Fact]
    public async Task License_IsTheAnalyzerTimePool_WhatTheQrsDoesNotTellStaysUnknown()
    {
        using var source = Source(_certificates.Client);

        var license = await source.LicenseAsync(CancellationToken.None);

        Assert.Equal(new ObservedLicense(6000, 1242, null, null, null, null, null, null), license);
    }

    [Fact]
    public async Task Seats_AreTheAllocations_WithoutTheQuarantinedOnes()
    {
        _server.Professional.Add(new TestAllocation("ACME", "alice", Morning.AddDays(-30)));
        _server.Analyzer.Add(new TestAllocation("ACME", "bob", Morning.AddDays(-3)));
        _server.Analyzer.Add(new TestAllocation("ACME", "carol", Morning.AddDays(-20), Quarantined: true));
        using var source = Source(_certificates.Client);

        var seats = await source.SeatsAsync(CancellationToken.None);

        Assert.Equal(
        [
            new ObservedSeat("ACME\\alice", "professional", Morning.AddDays(-30)),
            new ObservedSeat("ACME\\bob", "analyzer", Morning.AddDays(-3)),
        ], seats);
    }

    [Fact]
    public async Task HeaderAuthentication_ThroughAVirtualProxyPrefix_NamesTheUserInTheHeaderAndSendsNoCertificate()
    {
        await using var proxy = await QrsTestServer.StartWithHeaderProxyAsync(_certificates);
        var use = new TestUse(Guid.NewGuid(), Morning.AddMinutes(10), Morning, Morning.AddMinutes(7), "ACME", "jdoe", "s-1");
        proxy.Uses.Add(use);
        using var source = new QrsSource(
            new QrsOptions(proxy.BaseAddress, new QrsHeaderAuthentication(QrsTestServer.ProxyHeader, "ACME\\svc_tally"), QrsServerTrust.CustomRoot(_certificates.Root)),
            InTheAfternoon, Quick);

        var record = Assert.Single(await All(source, Morning));

        Assert.Equal((use.Id.ToString("D"), 12L, 2L), (record.RecordId, record.Minutes, record.Units));
        var seen = Assert.Single(proxy.Seen);
        Assert.StartsWith(QrsTestServer.ProxyPrefix + "/qrs/", seen.Path);
        Assert.Equal("ACME\\svc_tally", seen.ProxyUser);
        Assert.Null(seen.QlikUser);
        Assert.False(seen.HadClientCertificate);
    }

    [Fact]
    public async Task NoClientCertificate_IsUnauthorized_AndSaysTheQrsPortWantsOne()
    {
        using var source = new QrsSource(
            new QrsOptions(_server.BaseAddress, new QrsHeaderAuthentication("X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_repository"),
                QrsServerTrust.CustomRoot(_certificates.Root)),
            TimeProvider.System, Quick);

        var e = await Refused(source, SourceFailure.Unauthorized);

        Assert.Contains("wants a client certificate", e.Message);
    }

    [Fact]
    public async Task AClientCertificateOfAnotherCa_IsUnauthorized_AndNamesTheCertificate()
    {
        using var source = Source(_certificates.StrangerClient);

        var e = await Refused(source, SourceFailure.Unauthorized);

        Assert.Contains("refused the client certificate 'CN=QlikClient of another site'", e.Message);
        Assert.Contains(_certificates.StrangerClient.Thumbprint, e.Message);
    }

    [Fact]
    public async Task AnExpiredClientCertificate_IsUnauthorized_AndSaysItExpired()
    {
        using var source = Source(_certificates.ExpiredClient);

        var e = await Refused(source, SourceFailure.Unauthorized);

        Assert.Contains($"expired on {_certificates.ExpiredClient.NotAfter.ToUniversalTime():yyyy-MM-dd}", e.Message);
        Assert.False(e.IsTransient);
    }

    [Fact]
    public async Task AServerCertificateFromTheSitesOwnCa_IsRefusedWithTheSystemStore_AndSaysWhichCaToTrust()
    {
        using var source = Source(_certificates.Client, QrsServerTrust.SystemStore);

        var e = await Refused(source, SourceFailure.Unreachable);

        Assert.Contains("server certificate is not trusted", e.Message);
        Assert.Contains("root.pem", e.Message);
    }

    [Fact]
    public async Task AServerCertificateOfAnotherCa_IsRefusedEvenWhenTheSystemWouldNotCare()
    {
        using var source = Source(_certificates.Client, QrsServerTrust.CustomRoot(_certificates.StrangerRoot));

        var e = await Refused(source, SourceFailure.Unreachable);

        Assert.Contains("server certificate is not trusted", e.Message);
    }

    [Fact]
    public async Task AWrongPathInTheAddress_IsNotFound()
    {
        using var source = Source(_certificates.Client, address: new Uri(_server.BaseAddress, "no-such-proxy/"));

        var e = await Assert.ThrowsAsync<SourceException>(() => source.LicenseAsync(CancellationToken.None));

        Assert.Equal(SourceFailure.NotFound, e.Failure);
        Assert.Contains("/no-such-proxy/qrs/license/analyzertimeaccesstype/full", e.Message);
    }

    [Fact]
    public async Task AnAddressWhereNothingListens_IsUnreachable()
    {
        using var source = Source(_certificates.Client, address: new Uri($"https://127.0.0.1:{Ports.Free()}/"));

        var e = await Refused(source, SourceFailure.Unreachable);

        Assert.True(e.IsTransient);
    }

    [Fact]
    public void AnHttpAddress_IsRefusedBeforeAnythingIsSent()
    {
        var e = Assert.Throws<ArgumentException>(() => Source(_certificates.Client, address: new Uri("http://127.0.0.1:4242/")));

        Assert.Contains("https://", e.Message);
    }

    [Fact]
    public async Task ExportedCertificates_LoadFromPfxAndPem_AndAWrongPasswordIsNamedWithoutIt()
    {
        var folder = Directory.CreateTempSubdirectory("tally-qrs-").FullName;
        try
        {
            const string password = "Expo7t-Pa55word";
            var pfx = Path.Combine(folder, "client.pfx");
            await File.WriteAllBytesAsync(pfx, _certificates.Client.Export(X509ContentType.Pkcs12, password));
            var pem = Path.Combine(folder, "client.pem");
            var key = Path.Combine(folder, "client_key.pem");
            await File.WriteAllTextAsync(pem, _certificates.Client.ExportCertificatePem());
            await File.WriteAllTextAsync(key, _certificates.Client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            var rootPem = Path.Combine(folder, "root.pem");
            await File.WriteAllTextAsync(rootPem, _certificates.Root.ExportCertificatePem());
            var rootDer = Path.Combine(folder, "root.cer");
            await File.WriteAllBytesAsync(rootDer, _certificates.Root.Export(X509ContentType.Cert));

            foreach (var (client, root) in new[] { (QrsCertificates.LoadClientPfx(pfx, password), rootPem), (QrsCertificates.LoadClientPem(pem, key), rootDer) })
            {
                using (client)
                using (var authority = QrsCertificates.LoadAuthority(root))
                using (var source = Source(client, QrsServerTrust.CustomRoot(authority)))
                {
                    Assert.Equal(6000, (await source.LicenseAsync(CancellationToken.None)).IncludedMinutes);
                }
            }
            const string wrong = "Wr0ng-Pa55word";
            var e = Assert.Throws<ArgumentException>(() => QrsCertificates.LoadClientPfx(pfx, wrong));
            Assert.Contains("client.pfx", e.Message);
            Assert.DoesNotContain(wrong, e.Message);
            Assert.DoesNotContain(password, e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificates.Dispose();
    }
}
