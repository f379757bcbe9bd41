namespace Tally.Storage;

/// <summary>
/// The readiness write (<see cref="ILedgerStore.CheckWritable"/>), the same SQL on both stores. It must change bytes:
/// SQLite skips a page whose new content equals the old, so an update to the same value commits without writing
/// anything and proves nothing. One row whose counter each check increments does change them.
/// </summary>
internal static class WriteCheck
{
    /// <summary>Schema v6: the one-row table the check writes.</summary>
    public const string SchemaV6 = """
        CREATE TABLE write_checks (id INTEGER PRIMARY KEY, checks BIGINT NOT NULL);
        INSERT INTO write_checks (id, checks) VALUES (1, 0);
        """;

    /// <summary>An upsert, so a deleted row cannot turn the check into a write of nothing.</summary>
    public const string Sql = "INSERT INTO write_checks (id, checks) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET checks = write_checks.checks + 1;";
}
