namespace Tally.Storage;

/// <summary>
/// Every place where what Tally says to SQLite and to PostgreSQL differs, listed once. All other SQL (the schema's
/// names, the queries, the upserts with <c>ON CONFLICT</c>, <c>RETURNING</c>, row-value comparisons, <c>@name</c>
/// placeholders, which both providers accept) is written once in <see cref="LedgerStore"/>.
/// <para>
/// Beyond the members below, three differences live in their own places because they are not SQL text:
/// the migration scripts (<c>Migrations/sqlite</c> and <c>Migrations/postgres</c>) spell type names per dialect
/// (INTEGER/BLOB/REAL and AUTOINCREMENT against BIGINT/BYTEA/DOUBLE PRECISION and a sequence);
/// <see cref="LedgerStore.Append(string, IReadOnlyList{LedgerEntry}, ActivityMarks?)"/> is SQLite's <c>json_each</c> against PostgreSQL's binary COPY;
/// and SQLite serializes writes with a process-wide gate (one writer per file anyway) where PostgreSQL takes
/// transaction-scoped advisory locks (<see cref="Lock"/>).
/// </para>
/// </summary>
internal sealed class SqlDialect
{
    public static readonly SqlDialect Sqlite = new(
        "sqlite",
        ordinal: "",
        // LIKE folds ASCII letters only (SQLite has no Unicode case tables without ICU).
        like: "LIKE",
        jsonRows: json => $"json_each({json})",
        lockFor: _ => null);

    public static readonly SqlDialect Postgres = new(
        "postgres",
        // The database's locale would sort text its own way; "C" is byte order, what SQLite's BINARY does.
        ordinal: " COLLATE \"C\"",
        // LIKE is case-sensitive on PostgreSQL; ILIKE folds as lower() does under the database's LC_CTYPE.
        like: "ILIKE",
        jsonRows: json => $"json_array_elements(CAST({json} AS json)) AS value",
        // Transaction-scoped: released by commit or rollback, so a crashed holder never leaves it taken.
        lockFor: key => $"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0));");

    private readonly Func<string, string> _jsonRows;
    private readonly Func<string, string?> _lockFor;

    private readonly string _like;

    private SqlDialect(string name, string ordinal, string like, Func<string, string> jsonRows, Func<string, string?> lockFor)
    {
        Name = name;
        Ordinal = ordinal;
        _like = like;
        _jsonRows = jsonRows;
        _lockFor = lockFor;
    }

    /// <summary>The folder of this dialect's migration scripts under <c>Migrations/</c>.</summary>
    public string Name { get; }

    /// <summary>Appended to a text expression in ORDER BY: byte order on both stores.</summary>
    public string Ordinal { get; }

    /// <summary>
    /// A condition: <paramref name="column"/> contains the text of <paramref name="pattern"/>, a parameter holding
    /// <see cref="ContainsPattern"/>, ignoring the case of ASCII letters (beyond ASCII: see the dialect's comment).
    /// </summary>
    public string Contains(string column, string pattern) => $"{column} {_like} {pattern} ESCAPE '\\'";

    /// <summary>The LIKE pattern that matches <paramref name="text"/> anywhere, with <c>%</c>, <c>_</c> and the escape itself taken literally.</summary>
    public static string ContainsPattern(string text) =>
        "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";

    /// <summary>A FROM item with one row per element of the JSON array in <paramref name="json"/>, its column named <c>value</c>.</summary>
    public string JsonRows(string json) => _jsonRows(json);

    /// <summary>
    /// A statement that makes the rest of its transaction exclusive for <paramref name="keyExpression"/> (text) among
    /// every process sharing the database, or null where the store already serializes all writes (SQLite).
    /// </summary>
    public string? Lock(string keyExpression) => _lockFor(keyExpression);
}
