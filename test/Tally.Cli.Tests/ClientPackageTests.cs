using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tally.Contract;

namespace Tally.Cli.Tests;

/// <summary>
/// The client packages as a platform gets them: packed from this repository into a local feed, added to fresh projects
/// outside it, built, and run against a real <c>tally serve</c>. docs/client.md's ten lines are one of those projects,
/// built for .NET 8, the lowest target the packages promise.
/// </summary>
[Collection(InstallCollection.Name)]
public sealed partial class ClientPackageTests(InstallBuild build)
{
    private const string Version = "0.1.0";

    [Fact]
    public async Task Packages_InstallFromALocalFeed_IntoFreshProjects_AndMeterAgainstARealServer()
    {
        var feed = build.NewFolder("client-feed");
        // One build (the gate's project builds the other two), then each project packed from it.
        build.Dotnet("build", "src/Tally.Client.AspNetCore", "-c", "Release");
        foreach (var project in new[] { "Tally.Contract", "Tally.Client", "Tally.Client.AspNetCore" })
        {
            build.Dotnet("pack", $"src/{project}", "-c", "Release", "--no-build", "-o", feed);
        }
        Assert.Equal(["tally.client.0.1.0.nupkg", "tally.client.aspnetcore.0.1.0.nupkg", "tally.contract.0.1.0.nupkg"],
            Directory.GetFiles(feed, "*.nupkg").Select(f => Path.GetFileName(f).ToLowerInvariant()).Order());

        var work = build.NewFolder("client-apps");
        WriteNuGetConfig(work, feed);
        var console = Directory.CreateDirectory(Path.Combine(work, "metered")).FullName;
        File.WriteAllText(Path.Combine(console, "metered.csproj"), Project("net10.0", "Microsoft.NET.Sdk", "Exe", ("Tally.Client", Version),
            ("Microsoft.Extensions.Hosting", "10.0.0")));
        File.WriteAllText(Path.Combine(console, "Program.cs"), ConsoleProgram);
        var web = Directory.CreateDirectory(Path.Combine(work, "gated")).FullName;
        File.WriteAllText(Path.Combine(web, "gated.csproj"), Project("net8.0", "Microsoft.NET.Sdk.Web", "Exe", ("Tally.Client.AspNetCore", Version)));
        File.WriteAllText(Path.Combine(web, "Program.cs"), TenLines());

        Dotnet(work, "build", web, "-c", "Release");
        Dotnet(work, "build", console, "-c", "Release", "-o", Path.Combine(console, "out"));

        var port = Ports.Free();
        var serve = TallyProcess.StartInfo("serve", "--data", Path.Combine(work, "data"), "--urls", ServerProcess.Urls(port));
        serve.Environment["TALLY_ADMIN_KEY"] = AdminKey;
        using var server = await ServerProcess.StartAsync(serve, port);
        using var bootstrap = ApiClients.For(server.Address, AdminKey);
        var keys = await ApiClients.CreateTenantAsync(bootstrap, "acme");

        var run = ChildProcess.StartInfo("dotnet", [Path.Combine(console, "out", "metered.dll"), "--Tally:BaseAddress", server.Address.ToString(),
            "--Tally:ApiKey", keys.Ingest, "--Tally:BufferPath", Path.Combine(console, "buffer.db"), "--Logging:LogLevel:Default", "Warning"], console);
        var result = ChildProcess.Run(run, null, TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        using var printed = JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]);
        Assert.Equal(25, printed.RootElement.GetProperty("sent").GetInt64());
        Assert.Equal(0, printed.RootElement.GetProperty("buffered").GetInt64());
        Assert.Equal("charged", printed.RootElement.GetProperty("decision").GetString());

        // What the server recorded: the 25 tracked events and the access check, each once.
        using var read = ApiClients.For(server.Address, keys.Read);
        var version = await read.GetFromJsonAsync<LedgerVersion>("/api/v1/usage/version");
        Assert.Equal(26, version!.Events);
    }

    private const string AdminKey = "client-package-test-admin-key-0123456789";

    /// <summary>Builds, restores from the local feed for Tally's packages and from the machine's sources for the rest.</summary>
    private void Dotnet(string work, params string[] args)
    {
        var start = ChildProcess.StartInfo("dotnet", [.. args, "--nologo"], work);
        InstallBuild.Quiet(start);
        // A cache of its own: a Tally.Client 0.1.0 restored here never stands in for another build's package, and the
        // machine's cache is only read (a fallback folder), so nothing is downloaded twice.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(work, "packages");
        var result = ChildProcess.Run(start, null, TimeSpan.FromMinutes(6));
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
    }

    private static void WriteNuGetConfig(string work, string feed)
    {
        var machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache
            ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        // Tally's packages only from the local feed (a package of the same name elsewhere must not be the one tested).
        File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local"><package pattern="Tally.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
              <fallbackPackageFolders>
                <add key="machine" value="{machineCache}" />
              </fallbackPackageFolders>
            </configuration>
            """);
    }

    private static string Project(string framework, string sdk, string outputType, params (string Id, string Version)[] packages) => $"""
        <Project Sdk="{sdk}">
          <PropertyGroup>
            <OutputType>{outputType}</OutputType>
            <TargetFramework>{framework}</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>enable</ImplicitUsings>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
          </PropertyGroup>
          <ItemGroup>
        {string.Join("\n", packages.Select(p => $"    <PackageReference Include=\"{p.Id}\" Version=\"{p.Version}\" />"))}
          </ItemGroup>
        </Project>
        """;

    /// <summary>The first C# block of docs/client.md, as written there.</summary>
    private static string TenLines()
    {
        var doc = File.ReadAllText(Repository.PathOf("docs/client.md"));
        var code = CSharpBlock().Match(doc);
        Assert.True(code.Success, "docs/client.md has no ```csharp block");
        return code.Groups[1].Value;
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    private const string ConsoleProgram = """
        using System.Text.Json;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Hosting;
        using Tally.Client;

        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddTallyClient(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync();
        var tally = host.Services.GetRequiredService<TallyClient>();
        for (var i = 0; i < 25; i++)
        {
            tally.Track($"user{i % 5}", "sales", TallyActions.Select, "laptop");
        }
        await tally.FlushAsync();
        var decision = await tally.CheckAccessAsync(new TallyEvent("ana", "finance", TallyActions.OpenApp, "laptop"));
        var status = tally.Status;
        await host.StopAsync();
        Console.WriteLine(JsonSerializer.Serialize(new { sent = status.Sent, buffered = status.Buffered, decision = decision.Decision }));
        """;
}
