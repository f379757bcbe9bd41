using System.Diagnostics;

namespace Tally.TestSupport;

/// <summary>
/// Makes a real folder and the files in it unwritable, so the OS itself refuses the writes, and undoes it on dispose.
/// The tests run as root, where permission bits stop nothing (CAP_DAC_OVERRIDE): there the immutable attribute
/// (<c>chattr +i</c>, which ext4 and xfs honour even for root and even through descriptors opened before)
/// does it; as any other user, <c>chmod a-w</c> does. No test seam inside Tally is involved.
/// </summary>
public sealed class ReadOnlyFolder : IDisposable
{
    private static readonly bool AsRoot = Environment.UserName == "root";
    private readonly string _folder;
    private readonly List<string> _paths;

    /// <param name="folder">The folder; its files are made read-only first (an immutable folder still lets its files change).</param>
    /// <param name="keepSharedMemory">
    /// Leave SQLite's <c>-shm</c> files writable: a process that has one mapped for writing (an open ledger) takes SIGBUS
    /// on its next write to a page of it once it is immutable, which would kill the test host rather than fail a commit.
    /// The database and WAL files are what a commit must write, so they alone make the ledger unwritable.
    /// </param>
    public ReadOnlyFolder(string folder, bool keepSharedMemory = false)
    {
        _folder = folder;
        _paths = [.. Directory.GetFiles(folder).Where(f => !(keepSharedMemory && f.EndsWith("-shm", StringComparison.Ordinal))), folder];
        foreach (var path in _paths)
        {
            Run(AsRoot ? "chattr" : "chmod", AsRoot ? "+i" : "a-w", path);
        }
    }

    /// <summary>Fails the test early, with the reason, where the OS cannot make a folder read-only for this user.</summary>
    public static void AssertSupported(string scratch)
    {
        var probe = Directory.CreateDirectory(Path.Combine(scratch, "ro-probe")).FullName;
        using (new ReadOnlyFolder(probe))
        {
            Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(probe, "x"), "x"));
        }
        Directory.Delete(probe);
    }

    /// <summary>
    /// Makes every path writable again, each tried even when another fails (a file left immutable could not even be
    /// deleted afterwards, and that error would hide this one), then reports what failed.
    /// </summary>
    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var path in Enumerable.Reverse(_paths))
        {
            if (TryRun(AsRoot ? "chattr" : "chmod", AsRoot ? "-i" : "u+w", path) is { } failure
                && TryRun(AsRoot ? "chattr" : "chmod", AsRoot ? "-i" : "u+w", path) is not null)
            {
                failures.Add(failure);
            }
        }
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    private static void Run(string file, params string[] args)
    {
        var failure = TryRun(file, args);
        Assert.True(failure is null, failure);
    }

    /// <summary>Runs the tool; null when it succeeded, else what went wrong (its exit code and error output, or why it did not start).</summary>
    private static string? TryRun(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        args.ToList().ForEach(start.ArgumentList.Add);
        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {error}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{file} {string.Join(' ', args)} did not start: {e.Message}";
        }
    }

    public override string ToString() => _folder;
}
