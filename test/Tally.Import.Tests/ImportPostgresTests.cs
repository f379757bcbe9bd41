using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tally.Import.Tests.QlikCloud;

namespace Tally.Import.Tests;

/// <summary>
/// The import end to end with the observing server's ledger on PostgreSQL (the upstream, playing the Qlik Cloud tenant,
/// stays on SQLite: only the observer's store is under test). The observed records, their ids and the tenant's observing
/// state must live in PostgreSQL as they do in SQLite: equal reports after a pull, nothing twice on the next, and all of
/// it still there after a restart, which rebuilds the meter from the ledger alone. The one PostgreSQL class of this
/// project, so a class fixture (no collection to share the cluster with).
/// </summary>
public sealed class ImportPostgresTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>, IAsyncLifetime
{
    private readonly StoreDatabases _databases = new(cluster, "imp");
    private TallyUpstream _upstream = null!;
    private TestServer _observer = null!;
    private TenantKeys _keys = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TallyUpstream.StartAsync();
        _observer = await TestServer.StartOnAsync(_databases.For("postgres"), null, "--Tally:Import:AllowPrivateTargets=true",
            "--Tally:Import:RetryDelay=00:00:00.020", "--Tally:Import:AttemptTimeout=00:00:05");
        _keys = await _observer.TenantAsync("obs");
    }

    public async Task DisposeAsync()
    {
        await _observer.DisposeAsync();
        await _upstream.DisposeAsync();
        _databases.Dispose();
    }

    private async Task<(int Added, int Repeated)> Pull()
    {
        using var response = await _observer.Client(_keys.Admin).PostAsync("/api/v1/sources/cloud/pull", null);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK && !body.TryGetProperty("failure", out _), $"{response.StatusCode} {body}");
        return (body.GetProperty("added").GetInt32(), body.GetProperty("repeated").GetInt32());
    }

    [Fact]
    public async Task ObserverOnPostgres_PulledOnce_ReportsEqualTheSource_AgainAddsNothing_AndARestartKeepsItAll()
    {
        // The observer really is on PostgreSQL: without this, a fallback to SQLite would pass every assertion below.
        Assert.NotNull(_observer.Database);
        using (var added = await _observer.Client(_keys.Admin).PostAsJsonAsync("/api/v1/sources",
            new { id = "cloud", kind = "qlik-cloud", url = _upstream.Address.ToString(), apiKey = _upstream.Keys.Read }))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        Assert.Equal((_upstream.Units.Count, 0), await Pull());
        var source = await ImportReports.Of(_upstream.Server.Client(_upstream.Keys.Read));
        var observed = await ImportReports.Of(_observer.Client(_keys.Read));
        Assert.Equal(("metered", "observed"), (source.Kind, observed.Kind));
        Assert.Equal(_upstream.Units.Count, source.Users.Length);
        Assert.Equal(source.Users, observed.Users);
        Assert.Equal(source.Summary, observed.Summary);

        // Every record is found by its id in PostgreSQL: all repeats, nothing counted twice.
        Assert.Equal((0, _upstream.Units.Count), await Pull());
        Assert.Equal(Text(observed), Text(await ImportReports.Of(_observer.Client(_keys.Read))));

        // A clean restart: the meter is rebuilt from the PostgreSQL ledger, the tenant's observing state (its kind header,
        // its source's pool) from its stored source.
        _observer = await _observer.RestartAsync();
        Assert.Equal(Text(observed), Text(await ImportReports.Of(_observer.Client(_keys.Read))));
        Assert.Equal((0, _upstream.Units.Count), await Pull());
        Assert.Equal(Text(observed), Text(await ImportReports.Of(_observer.Client(_keys.Read))));
    }

    /// <summary>The reports as one text: compared by value (an array in a tuple compares by reference), a difference shown line by line.</summary>
    private static string Text((string Kind, string[] Users, string Summary) reports) =>
        $"kind {reports.Kind}\n{string.Join('\n', reports.Users)}\n{reports.Summary}";
}
