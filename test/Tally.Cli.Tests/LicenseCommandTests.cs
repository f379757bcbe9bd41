using System.CommandLine;
using Microsoft.Extensions.Time.Testing;
using Tally.Licensing;

namespace Tally.Cli.Tests;

public sealed class LicenseCommandTests : IDisposable
{
    private static readonly DateTimeOffset IssueDay = new(2026, 3, 10, 14, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("tally-license-cli-").FullName;
    private readonly FakeTimeProvider _time = new(IssueDay);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private Run Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = LicenseCommand.Create(_time).Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return new Run(exit, output.ToString(), error.ToString());
    }

    private string Keys => Path.Combine(_folder, "keys");
    private string SigningKey => Path.Combine(Keys, "signing-key.pem");
    private string PublicKey => Path.Combine(Keys, "public-key.pem");
    private string LicensePath => Path.Combine(_folder, "license.key");

    private void Keygen() => Assert.Equal(0, Invoke("keygen", "--out", Keys).ExitCode);

    private Run IssueLicense(params string[] extra) =>
        Invoke(["issue", "--signing-key", SigningKey, "--customer", "Acme", "--packs", "3", "--out", LicensePath, .. extra]);

    [Fact]
    public void Keygen_NewFolder_WritesPemFilesWithPrivateKeyOwnerOnly()
    {
        var run = Invoke("keygen", "--out", Keys);

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(SigningKey), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", File.ReadAllText(PublicKey), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SigningKey));
        }
    }

    [Fact]
    public void Keygen_ExistingKeys_RefusesToOverwrite()
    {
        Keygen();
        var before = File.ReadAllText(SigningKey);

        var run = Invoke("keygen", "--out", Keys);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--force", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(SigningKey));
    }

    [Fact]
    public void IssueThenVerify_Defaults_ValidForOneYearFromToday()
    {
        Keygen();
        Assert.Equal(0, IssueLicense().ExitCode);

        var run = Invoke("verify", LicensePath, "--public-key", PublicKey);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("license valid", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("valid from:         2026-03-10T00:00:00Z", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("valid to:           2027-03-10T00:00:00Z (exclusive)", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("issued at:          2026-03-10T14:00:00Z", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("3 x 1000 min = 3000 min included", run.Stdout, StringComparison.Ordinal);
        Assert.Empty(run.Stderr);
    }

    [Fact]
    public void Issue_AllOptions_TermsCarriedIntoTheKey()
    {
        Keygen();
        var run = IssueLicense("--pack-minutes", "1200", "--overage", "500", "--mode", "app", "--professional", "2", "--analyzer", "7",
            "--timezone", "Europe/Stockholm", "--valid-from", "2026-04-01", "--valid-to", "2026-10-01", "--unit-minutes", "5",
            "--anonymous-capacity", "--license-id", "LIC-42");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("issued LIC-42 for Acme", run.Stdout, StringComparison.Ordinal);

        var terms = LicenseKey.ReadUnverified(LicenseFiles.ReadKey(LicensePath)).Terms!;

        Assert.Equal("LIC-42", terms.LicenseId);
        Assert.Equal(1200, terms.PackMinutes);
        Assert.Equal("500", terms.Overage.ToString());
        Assert.Equal(Tally.Metering.CountingMode.App, terms.Mode);
        Assert.Equal((2, 7, 5, true), (terms.ProfessionalSeats, terms.AnalyzerSeats, terms.UnitMinutes, terms.AnonymousCapacity));
        // Dates are local midnights in the license's zone: Stockholm is UTC+2 in April (summer time).
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 22, 0, 0, TimeSpan.Zero), terms.ValidFrom);
        Assert.Equal(new DateTimeOffset(2026, 9, 30, 22, 0, 0, TimeSpan.Zero), terms.ValidTo);
    }

    [Fact]
    public void Issue_NoOut_PrintsTheKeyOnStdout()
    {
        Keygen();

        var run = Invoke("issue", "--signing-key", SigningKey, "--customer", "Acme", "--packs", "1");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("TALLY1.", run.Stdout, StringComparison.Ordinal);
        Assert.Single(run.Stdout.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--pack-minutes", "0", "pack minutes must be at least 1")]
    [InlineData("--analyzer=-1", "", "analyzer seats cannot be negative")]
    [InlineData("--overage", "lots", "--overage")]
    [InlineData("--timezone", "Mars/Olympus", "unknown time zone")]
    [InlineData("--valid-from", "next tuesday", "--valid-from")]
    [InlineData("--valid-to", "2026-03-01", "valid-from must be before valid-to")]
    [InlineData("--valid-from", "2026-04-01T00:00:00", "--valid-from")]
    public void Issue_BadArgument_ClearMessageAndExit2(string option, string value, string message)
    {
        Keygen();

        var run = Invoke(["issue", "--signing-key", SigningKey, "--customer", "Acme", "--packs", "1", option, .. value.Length > 0 ? [value] : Array.Empty<string>()]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.Stderr, StringComparison.Ordinal);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public void Issue_MissingRequiredOption_NonZeroWithMessage()
    {
        var run = Invoke("issue", "--customer", "Acme", "--packs", "1");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--signing-key", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_BadMode_NonZeroWithMessage()
    {
        Keygen();

        var run = Invoke("issue", "--signing-key", SigningKey, "--customer", "Acme", "--packs", "1", "--mode", "cloud");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("cloud", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_PublicKeyGivenAsSigningKey_Refused()
    {
        Keygen();

        var run = Invoke("issue", "--signing-key", PublicKey, "--customer", "Acme", "--packs", "1");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("PRIVATE KEY", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_MissingSigningKeyFile_Exit1WithMessage()
    {
        var run = Invoke("issue", "--signing-key", Path.Combine(_folder, "nope.pem"), "--customer", "Acme", "--packs", "1");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("nope.pem", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AfterValidTo_Exit1Expired()
    {
        Keygen();
        IssueLicense("--valid-from", "2026-03-01", "--valid-to", "2026-04-01");
        _time.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero));

        var run = Invoke("verify", LicensePath, "--public-key", PublicKey);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("expired", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public void Verify_BeforeValidFrom_Exit1NotYetValid()
    {
        Keygen();
        IssueLicense("--valid-from", "2026-06-01");

        var run = Invoke("verify", LicensePath, "--public-key", PublicKey);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("not-yet-valid", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_OtherVendorsPublicKey_Exit1BadSignature()
    {
        Keygen();
        IssueLicense();
        var other = Path.Combine(_folder, "other");
        Assert.Equal(0, Invoke("keygen", "--out", other).ExitCode);

        var run = Invoke("verify", LicensePath, "--public-key", Path.Combine(other, "public-key.pem"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("bad-signature", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_EditedKeyFile_Exit1()
    {
        Keygen();
        IssueLicense();
        var key = File.ReadAllText(LicensePath);
        File.WriteAllText(LicensePath, key.Replace("TALLY1.e", "TALLY1.f", StringComparison.Ordinal));

        var run = Invoke("verify", LicensePath, "--public-key", PublicKey);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("license invalid", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_MissingFile_Exit1WithMessage()
    {
        Keygen();

        var run = Invoke("verify", Path.Combine(_folder, "missing.key"), "--public-key", PublicKey);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("missing.key", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_NoPublicKey_TermsAndNotVerified()
    {
        Keygen();
        IssueLicense("--license-id", "LIC-7");

        var run = Invoke("show", LicensePath);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("license id:         LIC-7", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("NOT VERIFIED", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_WithRightPublicKey_Verified()
    {
        Keygen();
        IssueLicense();

        var run = Invoke("show", LicensePath, "--public-key", PublicKey);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("VERIFIED: signature valid", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("NOT VERIFIED", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_WithWrongPublicKey_NotVerifiedExit1()
    {
        Keygen();
        IssueLicense();
        var other = Path.Combine(_folder, "other");
        Invoke("keygen", "--out", other);

        var run = Invoke("show", LicensePath, "--public-key", Path.Combine(other, "public-key.pem"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("customer:           Acme", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("NOT VERIFIED: bad-signature", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Show_Garbage_Exit1Malformed()
    {
        File.WriteAllText(LicensePath, "hello\n");

        var run = Invoke("show", LicensePath);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("malformed", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void DocsIssueExample_RunsAndVerifies()
    {
        // The command shown in docs/licensing.md, with the example paths pointed at this test's folder.
        Keygen();
        var args = DocsCommand("tally license issue")
            .Select(a => a == "./vendor-keys/signing-key.pem" ? SigningKey : a == "acme.key" ? LicensePath : a)
            .ToArray();

        var issue = Invoke(args);
        _time.SetUtcNow(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));
        var verify = Invoke("verify", LicensePath, "--public-key", PublicKey);

        Assert.Equal(0, issue.ExitCode);
        Assert.Equal(0, verify.ExitCode);
        Assert.Contains("customer:           Acme Analytics", verify.Stdout, StringComparison.Ordinal);
        Assert.Contains("time zone:          Europe/Stockholm", verify.Stdout, StringComparison.Ordinal);
        Assert.InRange(LicenseFiles.ReadKey(LicensePath).Length, 400, 700);
    }

    /// <summary>Finds the shell example starting with <paramref name="prefix"/> and splits it the way a shell would.</summary>
    private static string[] DocsCommand(string prefix)
    {
        var page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "licensing.md"));
        var start = page.IndexOf(prefix, StringComparison.Ordinal);
        var end = page.IndexOf("```", start, StringComparison.Ordinal);
        var text = page[start..end].Replace("\\\n", " ", StringComparison.Ordinal).Trim();
        var tokens = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in text)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (current.Length > 0)
                {
                    tokens.Add(current.ToString());
                    current.Clear();
                }
            }
            else
            {
                current.Append(c);
            }
        }
        tokens.Add(current.ToString());
        return [.. tokens.Skip(2)];
    }
}
