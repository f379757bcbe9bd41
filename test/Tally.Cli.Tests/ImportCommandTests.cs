using System.Text.Json;

namespace Tally.Cli.Tests;

/// <summary>
/// <c>tally import</c> as a user runs it: the real executable reads a real Tally server's Qlik Cloud API (a second
/// server on loopback plays the Qlik tenant) and writes what it reported; secrets come from files and stay out of
/// every message.
/// </summary>
public sealed class ImportCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-import-cli-").FullName;
    private TestServer _qlik = null!;
    private TenantKeys _keys = null!;

    public async Task InitializeAsync()
    {
        _qlik = await TestServer.StartAsync();
        _keys = await _qlik.TenantAsync("acme");
        await _qlik.InstallLicenseAsync(_keys, TestServer.Terms(packs: 1, packMinutes: 600));
        using var ingest = _qlik.Client(_keys.Ingest);
        await ingest.SendEventsAsync(new { user = "ann", app = "sales", action = "open-app" }, new { user = "bob", app = "hr", action = "open-app" });
    }

    public async Task DisposeAsync()
    {
        await _qlik.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string SecretFile(string secret)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, secret + "\n");
        return path;
    }

    [Fact]
    public void QlikCloud_ToAFile_TheLicenseSeatsAndEveryRecord()
    {
        var output = Path.Combine(_dir, "acme.json");
        var run = TallyProcess.Run(null, "import", "qlik-cloud", "--url", _qlik.Address.ToString(), "--api-key-file", SecretFile(_keys.Read),
            "--since", "2026-03-01T00:00:00Z", "--out", output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("2 records", run.Stdout);
        var read = JsonDocument.Parse(File.ReadAllText(output)).RootElement;
        Assert.Equal(["ann sales 6 1", "bob hr 6 1"], read.GetProperty("records").EnumerateArray()
            .Select(r => $"{r.GetProperty("user")} {r.GetProperty("app")} {r.GetProperty("minutes")} {r.GetProperty("units")}").Order(StringComparer.Ordinal));
        Assert.Equal(600, read.GetProperty("license").GetProperty("includedMinutes").GetInt64());
    }

    [Fact]
    public void ARefusedKey_ExitsOne_NamingTheReason_WithoutTheKey()
    {
        const string wrong = "tally_nope_0123456789abcdef";
        var run = TallyProcess.Run(null, "import", "qlik-cloud", "--url", _qlik.Address.ToString(), "--api-key-file", SecretFile(wrong));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Unauthorized", run.Stderr);
        Assert.DoesNotContain(wrong, run.Stderr + run.Stdout);
    }

    [Fact]
    public void Qseow_WithoutAWayToSignIn_IsAUsageError()
    {
        var run = TallyProcess.Run(null, "import", "qseow", "--url", "https://qlik.example:4242/");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Sign in one way", run.Stderr);
    }

    [Fact]
    public void Pull_ASourceTheTenantDoesNotHave_ExitsOneWithTheServersAnswer()
    {
        var run = TallyProcess.Run(null, "import", "pull", "--server", _qlik.Address.ToString(), "--key-file", SecretFile(_keys.Admin), "--source", "nope");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("No source 'nope'", run.Stdout);
    }
}
