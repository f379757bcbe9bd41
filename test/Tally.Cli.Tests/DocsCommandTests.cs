using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tally.Cli.Tests;

/// <summary>
/// The docs runner: every fenced <c>sh</c> block of README.md and docs/*.md runs as written, a file's blocks in order in
/// one <c>bash -euo pipefail</c>, in a fresh folder holding a copy of <c>examples/</c> and a <c>./tally</c> that runs the
/// tally.dll built next to these tests (also on PATH as <c>tally</c>, for the pages that show an installed tool).
/// A block preceded by <c>&lt;!-- not run by the docs runner: REASON --&gt;</c> is skipped; an empty reason fails.
/// Blocks in other languages (<c>console</c>, <c>powershell</c>, <c>dockerfile</c>, …) are never run.
/// </summary>
/// <remarks>
/// Servers: the docs say port 5000, but other tests start servers in parallel, so the runner replaces <c>:5000</c> in
/// the block text with a free port it picked and sets <c>ASPNETCORE_URLS</c> to it for a <c>./tally serve</c> that names
/// no URL. A server started in the background (<c>./tally serve ... &amp;</c>) is ended when the file's script exits, by
/// a trap that kills the script's background jobs; the test also kills the whole process tree if bash outlives it.
/// </remarks>
public sealed class DocsCommandTests
{
    /// <summary>What a page's run must print, beyond exiting 0: the facts its reader relies on.</summary>
    private static readonly Dictionary<string, string[]> Facts = new(StringComparer.Ordinal)
    {
        // meter: units granted from the example log; license verify exits 0 and says so; report reads a live server.
        ["README.md"] = [@"""units"": [1-9]", "license valid", "Consumed minutes"],
        ["docs/api.md"] = [@"""decision"":""charged""", @"""consumedMinutes"":[1-9]"],
        ["docs/licensing.md"] = ["license valid", "VERIFIED"],
        // Both journeys reach their screen: the demo's, Qlik's overview shape, a charged and a refused engagement, a report.
        ["docs/getting-started.md"] = ["Tally demo is ready", @"""licenseNumber""", @"""decision"":""charged""", @"""reason"":""not-permitted""", "Consumed minutes"],
        ["docs/monitoring.md"] = ["Consumed minutes", @"""consumedMinutes"": [1-9]"],
        // R14: the worked example's idle-reload minutes and the what-if's saving, in meter's CSV and report's line.
        ["docs/meter.md"] = ["alice,3,18,0,2,12,6,12", @"12 minutes charged by scheduled reloads to idle users \(66\.7 % of consumed\)"],
    };

    public static TheoryData<string> Pages()
    {
        var data = new TheoryData<string>();
        data.Add("README.md");
        foreach (var page in Directory.GetFiles(Path.Combine(Repository.Root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            data.Add("docs/" + Path.GetFileName(page));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Page_ShellBlocks_RunAsWrittenAndExitZero(string page)
    {
        var blocks = ShellBlocks.Parse(File.ReadAllText(Path.Combine(Repository.Root, page)), page);
        var toRun = blocks.Where(b => b.SkipReason is null).ToList();
        if (toRun.Count == 0)
        {
            // Nothing to run; the page's facts, if any were expected, must then be missing on purpose.
            Assert.False(Facts.ContainsKey(page), $"{page} has facts to check but no sh block runs");
            return;
        }

        var run = RunPage(page, toRun);

        Assert.True(run.ExitCode == 0, $"{page}: the script exited {run.ExitCode}\n--- stdout\n{run.Stdout}\n--- stderr\n{run.Stderr}");
        foreach (var fact in Facts.GetValueOrDefault(page, []))
        {
            Assert.True(Regex.IsMatch(run.Stdout, fact), $"{page}: the output has no match for {fact}\n--- stdout\n{run.Stdout}\n--- stderr\n{run.Stderr}");
        }
    }

    [Fact]
    public void Parse_MarkerWithoutReason_Fails()
    {
        var page = "text\n<!-- not run by the docs runner:  -->\n```sh\necho hi\n```\n";

        var error = Assert.Throws<FormatException>(() => ShellBlocks.Parse(page, "x.md"));

        Assert.Contains("x.md line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MarkedAndOtherLanguageBlocks_OnlyUnmarkedShellRuns()
    {
        var page = "```sh\necho one\n```\n\n<!-- not run by the docs runner: runs forever -->\n```sh\nsleep 1d\n```\n```console\n$ ls\n```\n```sh\necho two\n```\n";

        var blocks = ShellBlocks.Parse(page, "x.md");

        Assert.Equal(["echo one\n", "sleep 1d\n", "echo two\n"], blocks.Select(b => b.Text));
        Assert.Equal([null, "runs forever", null], blocks.Select(b => b.SkipReason));
        Assert.Equal([1, 6, 12], blocks.Select(b => b.Line));
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private static Run RunPage(string page, IReadOnlyList<ShellBlock> blocks)
    {
        var folder = Directory.CreateTempSubdirectory("tally-docs-").FullName;
        try
        {
            CopyFolder(Path.Combine(Repository.Root, "examples"), Path.Combine(folder, "examples"));
            var tally = Path.Combine(folder, "tally");
            File.WriteAllText(tally, $"#!/bin/sh\nexec dotnet '{Path.Combine(AppContext.BaseDirectory, "tally.dll")}' \"$@\"\n");
            if (!OperatingSystem.IsWindows()) // the runner needs bash; the mode makes ./tally executable
            {
                File.SetUnixFileMode(tally, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var port = Ports.Free();
            var script = new StringBuilder();
            // Background servers end with the script, whichever way it exits.
            script.Append("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
            foreach (var block in blocks)
            {
                script.Append(FormattableString.Invariant($"# --- {page} line {block.Line}\n"));
                script.Append(block.Text.Replace(":5000", ":" + port, StringComparison.Ordinal));
            }
            File.WriteAllText(Path.Combine(folder, "docs.sh"), script.ToString());

            var start = new ProcessStartInfo("bash")
            {
                WorkingDirectory = folder,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in (string[])["-euo", "pipefail", "docs.sh"])
            {
                start.ArgumentList.Add(arg);
            }
            start.Environment["PATH"] = folder + ":" + Environment.GetEnvironmentVariable("PATH");
            start.Environment["ASPNETCORE_URLS"] = $"http://localhost:{port}";
            start.Environment.Remove("TALLY_ADMIN_KEY");
            start.Environment.Remove("TALLY_KEY");
            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return new Run(-1, stdout.Result, "timed out after 3 minutes\n" + stderr.Result);
            }
            return new Run(process.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

}

/// <summary>A fenced <c>sh</c> block of a page: its text, the 1-based line of its opening fence, and why it is not run (null: it runs).</summary>
internal sealed record ShellBlock(string Text, int Line, string? SkipReason);

internal static class ShellBlocks
{
    private const string Marker = "<!-- not run by the docs runner:";

    /// <summary>
    /// Every fenced block whose language is exactly <c>sh</c>. The skip marker must be the last non-blank line before the
    /// fence; a marker with an empty reason, or an unclosed fence, is a <see cref="FormatException"/> naming the line.
    /// </summary>
    public static IReadOnlyList<ShellBlock> Parse(string page, string name)
    {
        var lines = page.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var blocks = new List<ShellBlock>();
        string? lastNonBlank = null;
        var lastNonBlankLine = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (!line.StartsWith("```", StringComparison.Ordinal))
            {
                if (line.Trim().Length > 0)
                {
                    lastNonBlank = line.Trim();
                    lastNonBlankLine = i + 1;
                }
                continue;
            }
            var language = line[3..].Trim();
            var opening = i + 1;
            var text = new StringBuilder();
            for (i++; i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal); i++)
            {
                text.Append(lines[i]).Append('\n');
            }
            if (i >= lines.Length)
            {
                throw new FormatException($"{name} line {opening}: the fenced block is never closed");
            }
            string? reason = null;
            if (lastNonBlank is not null && lastNonBlank.StartsWith(Marker, StringComparison.Ordinal))
            {
                if (!lastNonBlank.EndsWith("-->", StringComparison.Ordinal)
                    || (reason = lastNonBlank[Marker.Length..^3].Trim()).Length == 0)
                {
                    throw new FormatException($"{name} line {lastNonBlankLine}: a docs runner marker needs a reason: {Marker} REASON -->");
                }
            }
            if (language == "sh")
            {
                blocks.Add(new ShellBlock(text.ToString(), opening, reason));
            }
            lastNonBlank = null;
        }
        return blocks;
    }
}
