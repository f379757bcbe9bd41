using System.Net;
using System.Net.Http.Json;
using Tally.Metering;

namespace Tally.Import.Tests.QlikCloud;

/// <summary>A record the upstream must report for what the test sent it: the unit one event started.</summary>
public sealed record ExpectedUnit(string User, string App, string Session, DateTimeOffset EndTime, long Minutes, long Units, string LicenseUsage, string Allotment);

/// <summary>
/// The upstream "Qlik Cloud tenant": a real Tally server on loopback (its Qlik-compatible licenses API) with one
/// licensed tenant that has used capacity and holds seats, and the units its events must have produced.
/// </summary>
public sealed class TallyUpstream : IAsyncDisposable
{
    public const int CapacityUsers = 30;
    public const int UnitMinutes = 6;

    private TallyUpstream(TestServer server, TenantKeys keys, IReadOnlyList<ExpectedUnit> units)
    {
        Server = server;
        Keys = keys;
        Units = units;
    }

    public TestServer Server { get; }
    public TenantKeys Keys { get; }
    public Uri Address => Server.Address;

    /// <summary>One per unit granted: <see cref="CapacityUsers"/> capacity users' units and one professional seat holder's.</summary>
    public IReadOnlyList<ExpectedUnit> Units { get; }

    /// <summary>
    /// Tenant "acme": license L-acme (600 included minutes, 60 overage, 2 professional and 1 analyzer seats); seats for
    /// pat (professional, at the start), kim (professional, a minute later) and ann (analyzer, two minutes later); then
    /// the capacity users u00..u29 open an app, two a minute (half of them on a device), and pat opens one too.
    /// </summary>
    public static async Task<TallyUpstream> StartAsync()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var keys = await server.TenantAsync("acme");
            await server.InstallLicenseAsync(keys, TestServer.Terms(packs: 1, packMinutes: 600, OverageAllowance.Capped(60))
                with { LicenseId = "L-acme", ProfessionalSeats = 2, AnalyzerSeats = 1 });
            using var admin = server.Client(keys.Admin);
            foreach (var (user, seat) in new[] { ("pat", "professional"), ("kim", "professional"), ("ann", "analyzer") })
            {
                Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/users/{user}", new { allocation = seat })).StatusCode);
                server.Time.Advance(TimeSpan.FromMinutes(1));
            }
            using var ingest = server.Client(keys.Ingest);
            var units = new List<ExpectedUnit>();
            for (var i = 0; i < CapacityUsers; i++)
            {
                var (user, app) = ($"u{i:D2}", $"app-{i % 3}");
                var device = i % 2 == 1 ? "d1" : null;
                Assert.Equal("charged", (await ingest.SendEventsAsync(new { user, app, device, action = "open-app" }))[0].Decision());
                units.Add(new ExpectedUnit(user, app, device is null ? user : $"{user}/{device}", server.Time.GetUtcNow().AddMinutes(UnitMinutes),
                    UnitMinutes, 1, "time", "analyzer_time"));
                if (i % 2 == 1)
                {
                    server.Time.Advance(TimeSpan.FromMinutes(1));
                }
            }
            await ingest.SendEventsAsync(new { user = "pat", app = "app-0", action = "open-app" });
            units.Add(new ExpectedUnit("pat", "app-0", "pat", server.Time.GetUtcNow().AddMinutes(UnitMinutes), 0, 0, "assigned", "professional"));
            return new TallyUpstream(server, keys, units);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
