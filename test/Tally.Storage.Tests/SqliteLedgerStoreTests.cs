using Microsoft.Data.Sqlite;

namespace Tally.Storage.Tests;

public sealed class SqliteLedgerStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-store-").FullName;
    private readonly SqliteLedgerStore _store;
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    public SqliteLedgerStoreTests()
    {
        _store = new SqliteLedgerStore(Path.Combine(_dir, "tally.db"));
        _store.Initialize();
        _store.CreateTenant(new TenantRecord("acme", "Acme", T0));
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static LedgerEntry Entry(string? id, string user, long ticks) =>
        new(id, ticks, null, user, "", "sales", "open-app",
            [new StoredDecision("charged", null, user, "sales", "2026-03", ticks, ticks + TimeSpan.TicksPerMinute * 6, 0, 6)],
            [new StoredUnit(0, user, "", "sales", "2026-03", ticks, ticks + TimeSpan.TicksPerMinute * 6, 6, "time", "analyzer_time")]);

    [Fact]
    public void Initialize_NewFile_CreatesSchemaVersionAndWal()
    {
        Assert.Equal(SqliteLedgerStore.CurrentSchemaVersion, _store.SchemaVersion());
        _store.Initialize(); // idempotent
        Assert.Equal(1, _store.SchemaVersion());
        using var connection = new SqliteConnection($"Data Source={_store.Path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public void Append_DuplicateIdInLedger_FailsWholeTransaction()
    {
        _store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)]);
        Assert.ThrowsAny<SqliteException>(() => _store.Append("acme", [Entry("e2", "bob", T0.UtcTicks), Entry("e1", "cy", T0.UtcTicks)]));
        Assert.Equal(1, _store.EventCount("acme"));
        Assert.False(_store.ContainsEventId("acme", "e2"));
        Assert.Equal(1, _store.PeriodUsage("acme", "2026-03").Units);
    }

    [Fact]
    public void Append_SameIdOtherTenantOrNoId_IsAccepted()
    {
        _store.CreateTenant(new TenantRecord("globex", "Globex", T0));
        _store.Append("acme", [Entry("e1", "ann", T0.UtcTicks), Entry(null, "ann", T0.UtcTicks), Entry(null, "ann", T0.UtcTicks)]);
        _store.Append("globex", [Entry("e1", "ann", T0.UtcTicks)]);
        Assert.Equal(3, _store.EventCount("acme"));
        Assert.Equal(1, _store.EventCount("globex"));
    }

    [Fact]
    public void Events_ReadBack_InRecordedOrderWithStamps()
    {
        _store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks + 5)]);
        _store.Append("acme", [Entry("c", "cy", T0.UtcTicks + 9)]);
        var events = _store.Events("acme").ToList();
        Assert.Equal(["a", "b", "c"], events.Select(e => e.EventId));
        Assert.Equal([T0.UtcTicks, T0.UtcTicks + 5, T0.UtcTicks + 9], events.Select(e => e.TimeTicks));
    }

    [Fact]
    public void Reports_SumUnitsPerUserAndApp_AndPageUnits()
    {
        _store.Append("acme", [Entry("a", "ann", T0.UtcTicks), Entry("b", "bob", T0.UtcTicks), Entry("c", "ann", T0.UtcTicks + TimeSpan.TicksPerHour)]);
        var usage = _store.PeriodUsage("acme", "2026-03");
        Assert.Equal((3L, 18L), (usage.Units, usage.Minutes));
        Assert.Equal([("ann", 12L), ("bob", 6L)], _store.UserUsage("acme", "2026-03").Select(u => (u.User, u.Minutes)));
        Assert.Equal(3, Assert.Single(_store.AppUsage("acme", "2026-03")).Units);
        var first = _store.Units("acme", new UnitQuery(0, 2));
        Assert.Equal(2, first.Units.Count);
        Assert.NotNull(first.NextAfter);
        var second = _store.Units("acme", new UnitQuery(first.NextAfter!.Value, 2));
        Assert.Single(second.Units);
        Assert.Null(second.NextAfter);
    }

    [Fact]
    public void ApiKeys_RevokeAndFindByHash()
    {
        var hash = new byte[32];
        hash[0] = 7;
        _store.AddApiKey(new ApiKeyRecord("k1", hash, "acme", ApiRole.Ingest, T0, null));
        Assert.Equal(ApiRole.Ingest, _store.FindApiKey(hash)!.Role);
        Assert.True(_store.RevokeApiKey("k1", T0));
        Assert.False(_store.RevokeApiKey("k1", T0));
        Assert.NotNull(_store.FindApiKey(hash)!.Revoked);
    }

    [Fact]
    public void Initialize_NewerSchemaOnDisk_RefusesWithClearMessage()
    {
        using (var connection = new SqliteConnection($"Data Source={_store.Path};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO schema_version (version, applied) VALUES (99, 'future');";
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<InvalidOperationException>(_store.Initialize);
        Assert.Contains("newer than this Tally", e.Message);
    }
}
