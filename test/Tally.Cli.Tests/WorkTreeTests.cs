using System.Diagnostics;

namespace Tally.Cli.Tests;

/// <summary>
/// The README and docs have a newcomer run commands in the work tree that write a vendor's signing key and licenses
/// there; `git add -A` must never pick those up.
/// </summary>
public sealed class WorkTreeTests
{
    [Theory]
    [InlineData("keys/signing-key.pem")]
    [InlineData("keys/public-key.pem")]
    [InlineData("vendor/signing-key.pem")]
    [InlineData("vendor-keys/signing-key.pem")]
    [InlineData("somewhere/else/signing-key.pem")]
    [InlineData("acme.lic")]
    public void DocumentedOutputs_AreIgnoredByGit(string path) => Assert.True(CheckIgnore(path) == 0, $"git does not ignore {path}");

    [Fact]
    public void SourceFiles_AreNotIgnored() => Assert.Equal(1, CheckIgnore("src/Tally.Cli/Program.cs"));

    /// <summary><c>git check-ignore</c>'s exit code for <paramref name="path"/>: 0 ignored, 1 not ignored.</summary>
    private static int CheckIgnore(string path)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "check-ignore", "--no-index", "--quiet", path })
        {
            start.ArgumentList.Add(arg);
        }
        using var git = Process.Start(start)!;
        git.WaitForExit();
        return git.ExitCode;
    }
}
