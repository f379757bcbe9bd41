using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Tally.Server.Dashboard;
using Tally.Storage;

namespace Tally.Server.Tests;

/// <summary>
/// A cluster's dashboard sessions, kept in the database: two nodes' <see cref="DashboardSessions"/> over one ledger (a
/// SQLite file stands in for the shared PostgreSQL; the cluster's process tests use the real one). A session begun
/// on one node is live on the other; ended, expired or revoked on one, it is over on both; the cap counts both.
/// </summary>
public sealed class SharedSessionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-shared-sessions-").FullName;
    private readonly SqliteLedgerStore _store;
    private readonly FakeTimeProvider _time = new(TestServer.Start);

    public SharedSessionTests()
    {
        _store = new SqliteLedgerStore(Path.Combine(_dir, "tally.db"), SqliteSynchronous.Normal);
        _store.Initialize();
        _store.CreateTenant(new TenantRecord("acme", "Acme", TestServer.Start));
    }

    public void Dispose()
    {
        _store.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private DashboardSessions Node(bool clustered = true, int maxSessions = 100) =>
        new(_time, _store, Microsoft.Extensions.Options.Options.Create(new TallyOptions
        {
            Cluster = new ClusterSettings { Enabled = clustered },
            Dashboard = new DashboardOptions { MaxSessions = maxSessions },
        }), _store);

    private Caller Key(out string id)
    {
        (id, _) = new ApiKeys(_store, _time).Issue("acme", ApiRole.Read);
        return new Caller(id, "acme", ApiRole.Read);
    }

    [Fact]
    public void SignedInOnOneNode_LiveOnTheOther_UntilSignedOutThere()
    {
        var (one, two) = (Node(), Node());
        var caller = Key(out _);
        var token = one.Create(caller)!;

        Assert.Equal(caller, two.Resolve(token));
        Assert.True(two.End(token));

        Assert.Null(one.Resolve(token));
        Assert.Null(two.Resolve(token));
        Assert.False(one.End(token));
        // The database holds the token's hash, never the token.
        Assert.Null(_store.GetSession(token));
    }

    [Fact]
    public void ASingleNode_KeepsItsSessionsToItself()
    {
        var token = Node(clustered: false).Create(Key(out _))!;

        Assert.Null(Node(clustered: false).Resolve(token));
        Assert.Equal(0, _store.SessionCount());
    }

    [Fact]
    public void ARevokedKey_EndsItsSessionOnEveryNode()
    {
        var (one, two) = (Node(), Node());
        var token = one.Create(Key(out var id))!;

        Assert.True(_store.RevokeApiKey(id, _time.GetUtcNow()));

        Assert.Null(two.Resolve(token));
        Assert.Equal(0, _store.SessionCount());
    }

    [Fact]
    public void Idle_ExpiresOnEveryNode_ButUseOnAnyNodeKeepsItAlive()
    {
        var (one, two) = (Node(), Node());
        var token = one.Create(Key(out _))!;

        // Used through node two every few hours: the idle clock restarts wherever the use lands.
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(DashboardSessions.IdleLifetime - TimeSpan.FromMinutes(30));
            Assert.NotNull(two.Resolve(token));
        }
        Assert.True(_time.GetUtcNow() - TestServer.Start < DashboardSessions.MaxLifetime);
        _time.Advance(DashboardSessions.IdleLifetime);

        Assert.Null(one.Resolve(token));
    }

    [Fact]
    public void Cap_CountsEveryNodesSessions_AndExpiredOnesMakeRoom()
    {
        var (one, two) = (Node(maxSessions: 2), Node(maxSessions: 2));
        var caller = Key(out _);
        Assert.NotNull(one.Create(caller));
        Assert.NotNull(two.Create(caller));

        Assert.Null(one.Create(caller));
        Assert.Equal(2, two.Count);

        _time.Advance(DashboardSessions.MaxLifetime);
        Assert.NotNull(two.Create(caller));
        Assert.Equal(1, one.Count);
    }
}
