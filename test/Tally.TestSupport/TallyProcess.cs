using System.Diagnostics;

namespace Tally.TestSupport;

/// <summary>Runs the real <c>tally</c> executable (built next to the tests) as a child process.</summary>
public static class TallyProcess
{
    /// <summary><c>dotnet tally.dll ARGS</c> with the tally built next to the tests.</summary>
    public static ProcessStartInfo StartInfo(params string[] args) =>
        ChildProcess.StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "tally.dll"), .. args]);

    public static ChildProcess.Result Run(string? stdin, params string[] args) => ChildProcess.Run(StartInfo(args), stdin);

    /// <summary>With <paramref name="environment"/> added to the child's environment (e.g. <c>COLUMNS</c>).</summary>
    public static ChildProcess.Result Run(string? stdin, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = StartInfo(args);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        return ChildProcess.Run(start, stdin);
    }
}
