namespace Tally.Storage;

/// <summary>The one definition of the unit records' order, shared by both stores (the SQL is the same on each).</summary>
internal static class UnitOrder
{
    /// <summary>v5: keyset paging by end instant reads an index range instead of sorting the tenant's units.</summary>
    public const string SchemaV5 = "CREATE INDEX units_tenant_end ON units (tenant, end_ticks, id);";

    /// <summary>The row-value comparison that means "after the position" and the ORDER BY of <paramref name="query"/>.</summary>
    public static (string After, string OrderBy) Sql(UnitQuery query) =>
        query.Descending ? ("<", "end_ticks DESC, id DESC") : (">", "end_ticks, id");

    /// <summary>Rows were read with one more than the limit: that extra row only says whether more follow.</summary>
    public static UnitPage Page(IReadOnlyList<StoredUnit> rows, int limit) =>
        rows.Count > limit ? new UnitPage([.. rows.Take(limit)], true) : new UnitPage(rows, false);
}
