using Npgsql;

namespace Tally.Storage.Tests;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "postgres";
}

/// <summary>The contract on PostgreSQL (a new schema per test), plus migration under concurrent starts.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class PostgresLedgerStoreTests(PostgresCluster cluster) : LedgerStoreContract
{
    private readonly string _connectionString = cluster.NewSchema();

    protected override ILedgerStore OpenStore() => new PostgresLedgerStore(_connectionString);

    protected override string Dialect => "postgres";

    protected override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override void ExecuteSql(string sql)
    {
        using var connection = new NpgsqlConnection(_connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    protected override IReadOnlyList<string> QuerySql(string sql)
    {
        using var connection = new NpgsqlConnection(_connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return RowsAsText(command.ExecuteReader());
    }

    public override void Dispose()
    {
        base.Dispose();
        cluster.DropSchema(_connectionString);
    }

    [Fact]
    public void Initialize_FourNodesAtOnce_MigrateOnceAndAllSeeCurrentVersion()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => new PostgresLedgerStore(_connectionString)).ToList();
        try
        {
            using var go = new Barrier(stores.Count);
            Parallel.ForEach(stores, new ParallelOptions { MaxDegreeOfParallelism = stores.Count }, store =>
            {
                go.SignalAndWait();
                store.Initialize();
            });
            Assert.All(stores, s => Assert.Equal(CurrentSchemaVersion, s.SchemaVersion()));
            using var connection = new NpgsqlConnection(_connectionString);
            connection.Open();
            using var command = new NpgsqlCommand("SELECT COUNT(*) FROM schema_version;", connection);
            Assert.Equal((long)CurrentSchemaVersion, (long)command.ExecuteScalar()!);
        }
        finally
        {
            stores.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void Initialize_NewerSchemaInDatabase_RefusesWithClearMessage()
    {
        _ = Store.SchemaVersion();
        using (var connection = new NpgsqlConnection(_connectionString))
        {
            connection.Open();
            using var command = new NpgsqlCommand("INSERT INTO schema_version (version, applied) VALUES (99, 'future');", connection);
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<LedgerOpenException>(Store.Initialize);
        Assert.Contains("newer than this Tally", e.Message);
        Assert.Contains("schema version 99", Store.CheckWritable());
    }

    [Fact]
    public void CheckWritable_ServerUnreachable_SaysWhyNotThrow()
    {
        using var store = new PostgresLedgerStore("Host=127.0.0.1;Port=1;Username=postgres;Timeout=2");
        Assert.NotNull(store.CheckWritable());
    }

    [Fact]
    public void CheckWritable_ReadOnlyTransactions_SaysWhy()
    {
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)]);
        // What a standby, or a database set to read-only, looks like to a client: every read works, no write does.
        using var readOnly = new PostgresLedgerStore(_connectionString + ";Options=-c default_transaction_read_only=on");
        Assert.Equal(1, readOnly.EventCount("acme"));
        Assert.Contains("read-only transaction", readOnly.CheckWritable());
        Assert.Null(Store.CheckWritable());
    }
}
