namespace Tally.TestSupport;

/// <summary>The repository the tests were built from (its scripts, docs, examples, deploy files and sources), found
/// from the test's output folder upwards by the solution file at its root.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tally.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Tally.slnx not found above " + AppContext.BaseDirectory);
    }
}
