using System.Data.Common;
using System.Globalization;
using System.Reflection;

namespace Tally.Storage;

/// <summary>
/// Brings a ledger's schema up to date from the scripts embedded under <c>Migrations/{dialect}/NNNN_name.sql</c>.
/// <c>schema_version</c> records each applied script (version, name); a script runs once, in its own transaction
/// together with its row, so a failure leaves the ledger at the last whole version. A database newer than the
/// newest script is refused: this Tally would not know what the newer one wrote.
/// </summary>
internal sealed class MigrationRunner
{
    private const string VersionTable = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL);";
    private const string ReadVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";

    private readonly SqlDialect _dialect;

    public MigrationRunner(SqlDialect dialect)
    {
        _dialect = dialect;
        Scripts = Load(dialect);
        // Both stores share one schema history, so the versions must be the same on each: a script added for one
        // dialect only is a bug the first test finds.
        if (Scripts.Count != LedgerStore.CurrentSchemaVersion || Scripts.Select(s => s.Version).Where((v, i) => v != i + 1).Any())
        {
            throw new InvalidOperationException(
                $"The {dialect.Name} migration scripts are not exactly versions 1..{LedgerStore.CurrentSchemaVersion}: {string.Join(", ", Scripts.Select(s => s.Name))}");
        }
    }

    public IReadOnlyList<MigrationScript> Scripts { get; }

    public static int Version(DbConnection connection, DbTransaction? tx = null) =>
        Convert.ToInt32(LedgerStore.Scalar(connection, tx, ReadVersion), CultureInfo.InvariantCulture);

    /// <summary>Applies the missing scripts. <paramref name="where"/> names the ledger in the refusal.</summary>
    public void Run(DbConnection connection, string where)
    {
        // A lock around every step: nodes that start together on one PostgreSQL wait for each other, and the second
        // one re-reads the version after the first has committed, so no script runs twice.
        var gate = _dialect.Lock("'tally-ledger-migration:' || current_schema()");
        InTransaction(connection, gate, tx => LedgerStore.Execute(connection, tx, VersionTable));
        foreach (var script in Scripts)
        {
            InTransaction(connection, gate, tx =>
            {
                var version = Version(connection, tx);
                if (version > LedgerStore.CurrentSchemaVersion)
                {
                    throw new LedgerOpenException(
                        $"The ledger {where} has schema version {version}, newer than this Tally ({LedgerStore.CurrentSchemaVersion}). Upgrade Tally or restore a matching backup.");
                }
                if (version < script.Version)
                {
                    LedgerStore.Execute(connection, tx, script.Sql);
                    LedgerStore.Execute(connection, tx, "INSERT INTO schema_version (version, applied) VALUES (@version, @name);",
                        ("@version", script.Version), ("@name", script.Name));
                }
            });
        }
    }

    private static void InTransaction(DbConnection connection, string? gate, Action<DbTransaction> work)
    {
        using var tx = connection.BeginTransaction();
        if (gate is not null)
        {
            LedgerStore.Execute(connection, tx, gate);
        }
        work(tx);
        tx.Commit();
    }

    private static List<MigrationScript> Load(SqlDialect dialect)
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var prefix = $"Migrations/{dialect.Name}/";
        return [.. assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => Read(assembly, n, n[prefix.Length..^".sql".Length]))
            .OrderBy(s => s.Version)];
    }

    private static MigrationScript Read(Assembly assembly, string resource, string name)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return new MigrationScript(int.Parse(name[..4], CultureInfo.InvariantCulture), name, reader.ReadToEnd());
    }
}

/// <summary>One embedded script: <paramref name="Name"/> is its file name without <c>.sql</c> (<c>0007_same_names_on_both_stores</c>).</summary>
internal sealed record MigrationScript(int Version, string Name, string Sql);
