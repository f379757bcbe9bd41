using System.Globalization;
using Spectre.Console;

namespace Tally.Cli;

/// <summary>The console the table formats write to, and the few rules every CLI table follows.</summary>
internal static class CliConsole
{
    /// <summary>
    /// A console over <paramref name="output"/>. Spectre.Console falls back to 80 columns when the output is not a
    /// terminal; <c>COLUMNS</c> (set by shells, or by hand for a pipe) overrides that, so the width is chosen, not guessed.
    /// </summary>
    public static IAnsiConsole For(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var columns) && columns >= 20)
        {
            console.Profile.Width = columns;
        }
        return console;
    }

    /// <summary>
    /// Writes a table under a title on its own line: a Spectre table title is wrapped to the table's width, so
    /// "Top apps (20 of 300)" over two narrow columns broke across lines.
    /// </summary>
    public static void WriteTitled(this IAnsiConsole console, string title, Table table)
    {
        console.Write(new Text(title + Environment.NewLine));
        console.Write(table);
    }

    /// <summary>A column of numbers: right-aligned, so digits line up.</summary>
    public static Table AddNumberColumns(this Table table, params string[] headers)
    {
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }
        return table;
    }
}
