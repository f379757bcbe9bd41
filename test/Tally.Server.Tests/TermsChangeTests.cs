using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>A license or plan changed mid-month takes effect from that moment, and a restart does not re-decide the past.</summary>
public class TermsChangeTests
{
    [Fact]
    public async Task License_ShrunkMidMonth_RunningUnitStaysCoveredAcrossRestart()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 12));
            using (var ingest = server.Client(acme.Ingest))
            {
                var first = await ingest.SendEventsAsync(
                    new { user = "ann", app = "sales", action = "open-app" },
                    new { user = "bob", app = "sales", action = "open-app" });
                Assert.Equal(["charged", "charged"], first.EnumerateArray().Select(r => r.Decision()));
            }
            server.Time.Advance(TimeSpan.FromMinutes(1));
            await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 6));

            server = await server.RestartAsync();
            server.Time.Advance(TimeSpan.FromMinutes(1));
            using var again = server.Client(acme.Ingest);
            // bob's unit was granted under the old license and is still running: replaying the month under the new,
            // smaller pool would have denied it and denied this event too.
            var results = await again.SendEventsAsync(
                new { user = "bob", app = "sales", action = "select" },
                new { user = "cat", app = "sales", action = "open-app" });
            Assert.Equal(["covered", "denied"], results.EnumerateArray().Select(r => r.Decision()));
            using var read = server.Client(acme.Read);
            var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
            Assert.Equal(12, summary.GetProperty("consumedMinutes").GetInt64());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task License_GrownMidMonth_GrantsFromThenOnAndSurvivesRestart()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 6));
            using (var ingest = server.Client(acme.Ingest))
            {
                var before = await ingest.SendEventsAsync(
                    new { user = "ann", app = "sales", action = "open-app" },
                    new { user = "bob", app = "sales", action = "open-app" });
                Assert.Equal(["charged", "denied"], before.EnumerateArray().Select(r => r.Decision()));
            }
            await server.InstallLicenseAsync(acme, TestServer.Terms(packs: 1, packMinutes: 12));
            using (var ingest = server.Client(acme.Ingest))
            {
                Assert.Equal("charged", (await ingest.SendEventsAsync(new { user = "bob", app = "sales", action = "select" }))[0].Decision());
            }
            server = await server.RestartAsync();
            using var again = server.Client(acme.Ingest);
            var results = await again.SendEventsAsync(
                new { user = "bob", app = "sales", action = "select" },
                new { user = "cat", app = "sales", action = "open-app" });
            Assert.Equal(["covered", "denied"], results.EnumerateArray().Select(r => r.Decision()));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Plan_SeatGrantedMidMonth_AppliesToNewUnitsOnly()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            var terms = TestServer.Terms(packs: 1, packMinutes: 60) with { ProfessionalSeats = 1 };
            await server.InstallLicenseAsync(acme, terms);
            using (var ingest = server.Client(acme.Ingest))
            {
                Assert.Equal("charged", (await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" }))[0].Decision());
            }
            using (var admin = server.Client(acme.Admin))
            {
                var plan = new { users = new[] { new { user = "ann", allocation = "professional" } } };
                Assert.True((await admin.PutAsJsonAsync("/api/v1/allocations", plan)).IsSuccessStatusCode);
            }
            server.Time.Advance(TimeSpan.FromMinutes(7));
            server = await server.RestartAsync();
            using var again = server.Client(acme.Ingest);
            var next = (await again.SendEventsAsync(new { user = "ann", app = "sales", action = "select" }))[0];
            Assert.Equal("free", next.Decision());
            using var read = server.Client(acme.Read);
            var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
            Assert.Equal(6, summary.GetProperty("consumedMinutes").GetInt64());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
