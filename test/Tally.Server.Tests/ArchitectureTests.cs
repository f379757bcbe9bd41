using System.Xml.Linq;

namespace Tally.Server.Tests;

/// <summary>
/// The dependency rules of src/ (docs/architecture.md, "Tests"): data flows one way, so the core never learns of the
/// shell. Read from the project files themselves, so a new ProjectReference that breaks a rule fails here by name.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>
    /// What each project of src/ may reference, and nothing else of Tally. Tally.Contract (the HTTP contract's types,
    /// being added) references nothing of Tally, like the core; its rule applies once the project exists.
    /// </summary>
    internal static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Tally.Metering"] = [],
        ["Tally.Contract"] = [],
        // The sources of observed usage speak other products' APIs; they know nothing of the ledger or the meter.
        ["Tally.Import"] = [],
        ["Tally.Licensing"] = ["Tally.Metering"],
        ["Tally.Storage"] = ["Tally.Metering"],
        ["Tally.Server"] = ["Tally.Metering", "Tally.Licensing", "Tally.Storage", "Tally.Contract", "Tally.Import"],
        // The cluster (issue 19) wraps the server: Orleans and the grains stay out of the single node's projects.
        ["Tally.Cluster"] = ["Tally.Server", "Tally.Storage", "Tally.Contract"],
        ["Tally.Cli"] = ["Tally.Metering", "Tally.Licensing", "Tally.Storage", "Tally.Server", "Tally.Contract", "Tally.Cluster"],
        // What platforms embed (issue 18): the wire contract and nothing of the server's insides, so it ships alone on .NET 8.
        ["Tally.Client"] = ["Tally.Contract"],
        ["Tally.Client.AspNetCore"] = ["Tally.Client", "Tally.Contract"],
    };

    /// <summary>Each src/ project's name and the names of the projects it references directly.</summary>
    private static Dictionary<string, string[]> SourceProjects() =>
        Directory.GetFiles(Repository.PathOf("src"), "*.csproj", SearchOption.AllDirectories).ToDictionary(
            file => Path.GetFileNameWithoutExtension(file),
            file => XDocument.Load(file).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(((string?)r.Attribute("Include") ?? "").Replace('\\', '/')))
                .ToArray(),
            StringComparer.Ordinal);

    /// <summary>Every broken rule in words naming the project and the offending reference; empty when all hold.</summary>
    internal static List<string> Violations(IReadOnlyDictionary<string, string[]> projects)
    {
        var broken = new List<string>();
        foreach (var (project, references) in projects.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!Allowed.TryGetValue(project, out var allowed))
            {
                broken.Add($"{project} has no dependency rule: add it to ArchitectureTests.Allowed and docs/architecture.md.");
                continue;
            }
            broken.AddRange(references.Where(r => !allowed.Contains(r, StringComparer.Ordinal))
                .Select(r => $"{project} references {r}; it may reference {(allowed.Length == 0 ? "nothing of Tally" : "only " + string.Join(", ", allowed))}."));
        }
        return broken;
    }

    [Fact]
    public void SourceProjects_ReferenceOnlyWhatTheirRuleAllows()
    {
        var projects = SourceProjects();
        // The table is read from disk: the projects every rule is about must be found, or the test proves nothing.
        Assert.Superset(new HashSet<string>(["Tally.Metering", "Tally.Licensing", "Tally.Storage", "Tally.Server", "Tally.Cli"]), projects.Keys.ToHashSet());
        Assert.Contains("Tally.Metering", projects["Tally.Server"]);
        var broken = Violations(projects);
        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }

    [Fact]
    public void Violations_ForbiddenOrUnknownReference_NamedInTheMessage()
    {
        var broken = Violations(new Dictionary<string, string[]>
        {
            ["Tally.Metering"] = ["Tally.Storage"],
            ["Tally.Licensing"] = ["Tally.Metering"],
            ["Tally.Storage"] = ["Tally.Server"],
            ["Tally.Server"] = ["Tally.Cli"],
            ["Tally.Contract"] = ["Tally.Metering"],
            ["Tally.Gadget"] = [],
        });
        Assert.Equal(
        [
            "Tally.Contract references Tally.Metering; it may reference nothing of Tally.",
            "Tally.Gadget has no dependency rule: add it to ArchitectureTests.Allowed and docs/architecture.md.",
            "Tally.Metering references Tally.Storage; it may reference nothing of Tally.",
            "Tally.Server references Tally.Cli; it may reference only Tally.Metering, Tally.Licensing, Tally.Storage, Tally.Contract, Tally.Import.",
            "Tally.Storage references Tally.Server; it may reference only Tally.Metering.",
        ], broken);
    }
}
