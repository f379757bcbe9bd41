using System.Globalization;

namespace Tally.Server;

/// <summary>
/// The one CSV writer of Tally: the server's <c>?format=csv</c> exports and every CSV the <c>tally</c> command writes go
/// through it, so a spreadsheet opening any of them sees the same rules.
/// <list type="bullet">
/// <item>Records end with CRLF and fields are quoted per RFC 4180: a field holding a comma, a double quote, CR or LF is
/// wrapped in double quotes and its quotes are doubled.</item>
/// <item>Text is neutralised against formula injection (OWASP "CSV Injection"; ASVS 5.0 V1.2.10): a text cell that
/// starts with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, TAB, CR, LF or NUL gets a leading <c>'</c> and is quoted, so
/// Excel, LibreOffice and Google Sheets show it as text instead of evaluating it. <c>=1+1</c> is written
/// <c>"'=1+1"</c>.</item>
/// <item>Numbers Tally computed itself (<see cref="Number(long)"/>) are written as they are, a minus sign included:
/// they are not attacker-controlled, <c>-1</c> is a number to a spreadsheet rather than a formula, and a prefix would
/// turn every negative figure into text nobody can sum. Anything that came from outside (user, app, device and
/// rule names, messages) is text, including names that look like numbers: a user called <c>-1</c> is written
/// <c>"'-1"</c>.</item>
/// </list>
/// </summary>
public sealed class CsvWriter(TextWriter output)
{
    private const string LineEnd = "\r\n";

    // OWASP's list (=, +, -, @, TAB, CR) plus LF and NUL (ASVS): characters a spreadsheet may read as the start of
    // a formula, or skip to find one.
    private static readonly System.Buffers.SearchValues<char> FormulaStart = System.Buffers.SearchValues.Create("=+-@\t\r\n\0");
    private static readonly System.Buffers.SearchValues<char> NeedsQuotes = System.Buffers.SearchValues.Create(",\"\r\n");

    private bool _inRow;

    /// <summary>A text cell (anything not computed by Tally itself): neutralised and quoted as needed. Null is empty.</summary>
    public CsvWriter Text(string? value)
    {
        Separator();
        output.Write(Cell(value));
        return this;
    }

    /// <summary>A whole number Tally computed: written as is.</summary>
    public CsvWriter Number(long value)
    {
        Separator();
        output.Write(value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    /// <summary>A fractional number Tally computed: round-trip form, invariant culture, written as is.</summary>
    public CsvWriter Number(double value)
    {
        Separator();
        output.Write(value.ToString("R", CultureInfo.InvariantCulture));
        return this;
    }

    /// <summary>A row of text cells, then the end of the record.</summary>
    public void Row(IEnumerable<string?> cells)
    {
        foreach (var cell in cells)
        {
            Text(cell);
        }
        EndRow();
    }

    public void EndRow()
    {
        output.Write(LineEnd);
        _inRow = false;
    }

    /// <summary>One text field as written: neutralised when it could start a formula, quoted when RFC 4180 needs it.</summary>
    public static string Cell(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        var neutralise = FormulaStart.Contains(value[0]);
        if (!neutralise && value.AsSpan().IndexOfAny(NeedsQuotes) < 0)
        {
            return value;
        }
        // Quoted even when only neutralised: the quote keeps the prefix and the text one field in every reader.
        return "\"" + (neutralise ? "'" : "") + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>True when <paramref name="value"/> is written exactly as it is (no quotes, no prefix).</summary>
    public static bool IsPlain(string value) =>
        value.Length == 0 || (!FormulaStart.Contains(value[0]) && value.AsSpan().IndexOfAny(NeedsQuotes) < 0);

    private void Separator()
    {
        if (_inRow)
        {
            output.Write(',');
        }
        _inRow = true;
    }
}
