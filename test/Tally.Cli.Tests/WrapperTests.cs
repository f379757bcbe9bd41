namespace Tally.Cli.Tests;

/// <summary>
/// ./tally builds the CLI only when an input changed since its last successful build, and shows the build's output
/// only when the build fails. Run on the work tree itself: the stamp, the sources and the build output are its own.
/// </summary>
[Collection(InstallCollection.Name)]
public sealed class WrapperTests
{
    private static readonly string Stamp = Repository.PathOf("src/Tally.Cli/obj/tally-wrapper.stamp");
    private static readonly string Built = Repository.PathOf("src/Tally.Cli/bin/Release/net10.0/tally.dll");

    [Fact]
    public void Wrapper_BuildsOnlyWhenASourceChanged_ShowsBuildOutputOnlyWhenItFails()
    {
        Version();
        var stamped = File.GetLastWriteTimeUtc(Stamp);
        var built = File.GetLastWriteTimeUtc(Built);

        // Nothing changed: no build.
        Version();
        Assert.Equal(stamped, File.GetLastWriteTimeUtc(Stamp));
        Assert.Equal(built, File.GetLastWriteTimeUtc(Built));

        var folder = Repository.PathOf("src/Tally.Cli");
        var folderTime = Directory.GetLastWriteTimeUtc(folder);
        var source = Path.Combine(folder, "Program.cs");
        var sourceTime = File.GetLastWriteTimeUtc(source);
        var broken = Path.Combine(folder, "WrapperTestBroken.cs");
        try
        {
            // A source that does not compile: the build's errors on stderr, nothing on stdout, and no new stamp.
            File.WriteAllText(broken, "namespace Tally.Cli; this is not C#\n");
            var failed = Wrapper("--version");
            Assert.Equal(1, failed.ExitCode);
            Assert.Equal("", failed.Stdout);
            Assert.Contains("WrapperTestBroken.cs", failed.Stderr);
            Assert.Contains("error CS", failed.Stderr);
            Assert.Equal(stamped, File.GetLastWriteTimeUtc(Stamp));
            File.Delete(broken);
            // Put the folder's time back, so that only the touch below can be what makes the next call build.
            Directory.SetLastWriteTimeUtc(folder, folderTime);

            var touched = TimeProvider.System.GetUtcNow().UtcDateTime;
            File.SetLastWriteTimeUtc(source, touched);
            Version();
            Assert.True(File.GetLastWriteTimeUtc(Stamp) >= touched, "the wrapper did not build after a source file was touched");
            Assert.True(File.GetLastWriteTimeUtc(Built) > built, "the build did not compile the touched source");

            // Built again: the next call does not build.
            var rebuilt = File.GetLastWriteTimeUtc(Stamp);
            Version();
            Assert.Equal(rebuilt, File.GetLastWriteTimeUtc(Stamp));
        }
        finally
        {
            File.Delete(broken);
            File.SetLastWriteTimeUtc(source, sourceTime);
        }
    }

    /// <summary>./tally --version: the version alone on stdout, nothing on stderr (no build output on success).</summary>
    private static void Version()
    {
        var result = Wrapper("--version");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Matches(@"^\d+\.\d+\.\d+\S*\n$", result.Stdout);
        Assert.Equal("", result.Stderr);
    }

    private static ChildProcess.Result Wrapper(params string[] args)
    {
        var start = ChildProcess.StartInfo(Repository.PathOf("tally"), args, Repository.Root);
        InstallBuild.Quiet(start);
        return ChildProcess.Run(start, null, TimeSpan.FromMinutes(5));
    }
}
