using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;

namespace Tally.Cli.Tests;

/// <summary>
/// The Dockerfile. No image can be built here (no Docker engine, no registry to pull base images from), so the tests
/// check the facts in it that matter and run what the image would run: the output of its publish command, started with
/// its ENTRYPOINT as an unprivileged user with the data folder elsewhere, and its HEALTHCHECK command against it.
/// </summary>
[Collection(InstallCollection.Name)]
[SupportedOSPlatform("linux")]
public sealed class ContainerTests(InstallBuild build)
{
    private static readonly Dockerfile Image = Dockerfile.Read(Repository.PathOf("Dockerfile"));

    [Fact]
    public void Dockerfile_StatesWhatTheContainerNeeds()
    {
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0 AS build", "mcr.microsoft.com/dotnet/aspnet:10.0"], Image.All("FROM"));
        Assert.DoesNotContain(Image.Last("USER"), new[] { "root", "0", "0:0" });
        // The volume is the folder the server keeps its ledger in, and the port it listens on is the one exposed.
        Assert.Equal(Image.Last("VOLUME"), Image.Argument("--data"));
        var listen = new Uri(Image.Argument("--urls"));
        Assert.Equal("0.0.0.0", listen.Host);
        Assert.Equal(listen.Port.ToString(CultureInfo.InvariantCulture), Image.Last("EXPOSE"));
        // The health check asks that same server, with the same program.
        var check = Image.HealthCheck;
        Assert.Equal(Image.Entrypoint[..2], check[..2]);
        Assert.Equal(["health", "--url", $"http://127.0.0.1:{listen.Port}/health/ready"], check[2..]);
        // What is published is what is copied and run.
        var output = Image.PublishArguments[Array.IndexOf(Image.PublishArguments, "-o") + 1];
        Assert.Contains($"--from=build {output} .", Image.All("COPY"));
        Assert.Equal(output, Image.Last("WORKDIR"));
        Assert.Equal(output + "/tally.dll", Image.Entrypoint[1]);
    }

    [Fact]
    public async Task PublishedOutput_RunAsNobodyWithDataElsewhere_IsReadyAndPassesTheHealthCheck()
    {
        var published = build.NewFolder("container-app");
        var publish = Image.PublishArguments.ToArray();
        var output = Array.IndexOf(publish, "-o") + 1;
        var imageApp = publish[output];
        publish[output] = published;
        build.Dotnet(publish);

        var data = Path.Combine(build.NewFolder("container-elsewhere"), "data");
        Directory.CreateDirectory(data);
        Assert.Equal(0, ChildProcess.Run("chown", ["nobody:nogroup", data]).ExitCode);
        var port = Ports.Free();
        string[] InContainer(IEnumerable<string> command) => [.. command.Select(a => a
            .Replace(imageApp + "/", published + "/", StringComparison.Ordinal)
            .Replace(Image.Last("VOLUME"), data, StringComparison.Ordinal)
            .Replace($"0.0.0.0:{new Uri(Image.Argument("--urls")).Port}", $"127.0.0.1:{port}", StringComparison.Ordinal)
            .Replace($"127.0.0.1:{new Uri(Image.Argument("--urls")).Port}", $"127.0.0.1:{port}", StringComparison.Ordinal))];

        using var server = await ServerProcess.StartAsync(AsNobody(InContainer(Image.Entrypoint)), port);
        Assert.Equal("65534", Uid(server.Process.Id));
        Assert.Equal("65534", ChildProcess.Run("stat", ["-c", "%u", Path.Combine(data, "tally.db")]).Stdout.Trim());
        await server.DashboardAsync();

        var healthy = ChildProcess.Run(AsNobody(InContainer(Image.HealthCheck)), null);
        Assert.True(healthy.ExitCode == 0, healthy.Stdout + healthy.Stderr);

        server.Process.Kill(entireProcessTree: true);
        await server.Process.WaitForExitAsync();
        var unhealthy = ChildProcess.Run(AsNobody(InContainer(Image.HealthCheck)), null);
        Assert.Equal(1, unhealthy.ExitCode);
        Assert.Contains("did not answer", unhealthy.Stderr);
    }

    /// <summary>The command as user nobody, as the image's USER is: setpriv execs it, so the process is the command.</summary>
    private static ProcessStartInfo AsNobody(string[] command)
    {
        var start = ChildProcess.StartInfo("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", .. command]);
        InstallBuild.Quiet(start);
        return start;
    }

    private static string Uid(int pid) =>
        File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1];

    /// <summary>The instructions of a Dockerfile: continuation lines joined, comments dropped.</summary>
    private sealed record Dockerfile(IReadOnlyList<(string Instruction, string Value)> Lines)
    {
        public static Dockerfile Read(string path)
        {
            var lines = new List<(string, string)>();
            var pending = "";
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Trim();
                if (line.StartsWith('#') || (line.Length == 0 && pending.Length == 0))
                {
                    continue;
                }
                if (line.EndsWith('\\'))
                {
                    pending += line[..^1] + " ";
                    continue;
                }
                line = pending + line;
                pending = "";
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                lines.Add((line[..space].ToUpperInvariant(), line[(space + 1)..].Trim()));
            }
            return new Dockerfile(lines);
        }

        public IEnumerable<string> All(string instruction) => Lines.Where(l => l.Instruction == instruction).Select(l => l.Value);

        public string Last(string instruction) => All(instruction).Last();

        public string[] Entrypoint => JsonSerializer.Deserialize<string[]>(Last("ENTRYPOINT"))!;

        public string Argument(string flag) => Entrypoint[Array.IndexOf(Entrypoint, flag) + 1];

        /// <summary>HEALTHCHECK [OPTIONS] CMD [...]: the command.</summary>
        public string[] HealthCheck
        {
            get
            {
                var value = Last("HEALTHCHECK");
                return JsonSerializer.Deserialize<string[]>(value[(value.IndexOf("CMD ", StringComparison.Ordinal) + 4)..])!;
            }
        }

        /// <summary>The build stage's <c>RUN dotnet publish ...</c>, without "dotnet".</summary>
        public string[] PublishArguments =>
            Assert.Single(All("RUN"), r => r.StartsWith("dotnet publish ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
    }
}
