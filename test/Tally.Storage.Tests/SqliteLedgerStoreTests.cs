using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Tally.Storage.Tests;

/// <summary>The contract on SQLite (a new file per test), plus what only SQLite has.</summary>
public sealed class SqliteLedgerStoreTests : LedgerStoreContract
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-store-").FullName;

    private string DatabasePath => Path.Combine(_dir, "tally.db");

    protected override ILedgerStore OpenStore() => new SqliteLedgerStore(DatabasePath);

    protected override string Dialect => "sqlite";

    protected override bool IsUniqueViolation(Exception e) => e is SqliteException { SqliteErrorCode: 19 };

    protected override void ExecuteSql(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    protected override IReadOnlyList<string> QuerySql(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return RowsAsText(command.ExecuteReader());
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
        var e = Assert.Throws<LedgerOpenException>(Store.Initialize);
        Assert.Contains("newer than this Tally", e.Message);
    }

    [Fact]
    public void CheckWritable_FolderAndFilesMadeReadOnly_SaysWhyThenRecovers()
    {
        Store.Append("acme", [Entry("e1", "ann", T0.UtcTicks)]);
        Assert.Null(Store.CheckWritable());
        using (new ReadOnlyFolder(_dir, keepSharedMemory: true))
        {
            Assert.Contains(DatabasePath, Store.CheckWritable());
            // Reads still work, which is exactly why readiness must try a write. (Several at once: each pooled read
            // connection opened now is read-only for good, and must never serve a write later.)
            Parallel.For(0, 4, _ => Assert.Equal(1, Store.EventCount("acme")));
            Assert.ThrowsAny<SqliteException>(() => Store.Append("acme", [Entry("e2", "bob", T0.UtcTicks)]));
        }
        Assert.Null(Store.CheckWritable());
        Store.Append("acme", [Entry("e2", "bob", T0.UtcTicks)]);
        Store.SetPlan("acme", "{}", T0);
        Assert.Equal(2, Store.EventCount("acme"));
        Assert.Equal("{}", Store.GetPlan("acme"));
    }

    [Fact]
    public void DataFolderLock_SecondTaker_RefusedNamingTheHolder_FreeAgainAfterRelease()
    {
        var folder = Path.Combine(_dir, "data");
        var time = new FakeTimeProvider(T0);
        using (var first = DataFolderLock.Acquire(folder, time))
        {
            Assert.Equal($"pid {Environment.ProcessId} on host {Environment.MachineName}, started 2026-03-01T09:00:00Z", first.Owner);
            // flock belongs to the open file, not the process: a second taker in this same process is refused too.
            var e = Assert.Throws<LedgerOpenException>(() => DataFolderLock.Acquire(folder, time));
            Assert.Contains($"The data folder {folder} is in use by another Tally server ({first.Owner})", e.Message);
            Assert.Equal(first.Owner + "\n", File.ReadAllText(Path.Combine(folder, DataFolderLock.OwnerFileName)));
        }
        using var again = DataFolderLock.Acquire(folder, time);
        Assert.Equal(folder, again.Folder);
    }

    [Fact]
    public void DataFolderLock_ReadOnlyFolder_RefusedAsNotWritable()
    {
        var folder = Path.Combine(_dir, "data");
        DataFolderLock.Acquire(folder, TimeProvider.System).Dispose();
        using (new ReadOnlyFolder(folder))
        {
            var e = Assert.Throws<LedgerOpenException>(() => DataFolderLock.Acquire(folder, TimeProvider.System));
            Assert.StartsWith($"The data folder {folder} is not writable", e.Message);
        }
    }
}
