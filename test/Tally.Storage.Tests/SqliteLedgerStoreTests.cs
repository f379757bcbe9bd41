using Microsoft.Data.Sqlite;

namespace Tally.Storage.Tests;

/// <summary>The contract on SQLite (a new file per test), plus what only SQLite has.</summary>
public sealed class SqliteLedgerStoreTests : LedgerStoreContract
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-store-").FullName;

    private string DatabasePath => Path.Combine(_dir, "tally.db");

    protected override ILedgerStore OpenStore() => new SqliteLedgerStore(DatabasePath);

    protected override int CurrentSchemaVersion => SqliteLedgerStore.CurrentSchemaVersion;

    protected override bool IsUniqueViolation(Exception e) => e is SqliteException { SqliteErrorCode: 19 };

    protected override void ExecuteSql(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public override void Dispose()
    {
        base.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Initialize_NewFile_UsesWal()
    {
        Assert.Equal(CurrentSchemaVersion, Store.SchemaVersion());
        using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public void Initialize_NewerSchemaOnDisk_RefusesWithClearMessage()
    {
        _ = Store.SchemaVersion();
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO schema_version (version, applied) VALUES (99, 'future');";
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<InvalidOperationException>(Store.Initialize);
        Assert.Contains("newer than this Tally", e.Message);
    }
}
