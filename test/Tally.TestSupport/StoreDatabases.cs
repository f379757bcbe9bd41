
namespace Tally.TestSupport;

/// <summary>
/// The <c>--database</c> value for a test run on each store: null for SQLite (a temp folder), or a fresh schema of the
/// shared PostgreSQL cluster. Every schema made is dropped when the test class is done.
/// </summary>
public sealed class StoreDatabases(PostgresCluster cluster, string prefix) : IDisposable
{
    private readonly List<string> _schemas = [];

    public string? For(string store)
    {
        if (store == "sqlite")
        {
            return null;
        }
        var schema = cluster.NewSchema(prefix);
        _schemas.Add(schema);
        return schema;
    }

    public void Dispose() => _schemas.ForEach(cluster.DropSchema);
}
