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

    public const string Sql = "UPDATE write_checks SET checks = checks + 1 WHERE id = 1;";
}
