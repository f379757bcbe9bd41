using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using CsCheck;

namespace Tally.Licensing.Tests;

public class LicenseKeyTests
{
    private static readonly DateTimeOffset Midyear = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Verify_FreshlyIssuedKey_ReturnsTheIssuedTerms()
    {
        var terms = TestLicenses.Terms();

        var result = TestLicenses.Verifier.Verify(TestLicenses.Issue(terms), Midyear);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(terms, result.Terms);
        Assert.Equal(LicenseFailure.None, result.Failure);
    }

    [Fact]
    public void Verify_KeysRoundTripThroughPemFiles_Valid()
    {
        using var generated = SigningKeys.Generate();
        var signingImport = SigningKeys.ImportSigningKey(SigningKeys.ExportSigningKeyPem(generated));
        var verifyingImport = SigningKeys.ImportPublicKey(SigningKeys.ExportPublicKeyPem(generated));
        Assert.Null(signingImport.Error);
        Assert.Null(verifyingImport.Error);
        using var signing = signingImport.Value!;
        using var verifying = verifyingImport.Value!;

        var key = new LicenseIssuer(signing).Issue(TestLicenses.Terms());

        Assert.True(new LicenseVerifier(verifying).Verify(key, Midyear).IsValid);
    }

    [Fact]
    public void Issue_Key_IsOnePrintableLineWithThreeParts()
    {
        var key = TestLicenses.Issue();

        Assert.All(key, c => Assert.InRange(c, '!', '~'));
        var parts = key.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Equal("TALLY1", parts[0]);
        Assert.Equal(64, Base64Url.DecodeFromChars(parts[2]).Length);
    }

    [Fact]
    public void Issue_Payload_IsCanonicalJsonInFixedOrder()
    {
        var key = TestLicenses.Issue();

        var json = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(key.Split('.')[1]));

        Assert.Equal(
            """{"v":1,"licenseId":"LIC-0001","customer":"Acme Analytics","issuedAt":"2025-12-15T10:30:00Z","validFrom":"2026-01-01T00:00:00Z","validTo":"2027-01-01T00:00:00Z","mode":"app","unitMinutes":6,"packs":3,"packMinutes":1000,"overage":"500","professionalSeats":2,"analyzerSeats":5,"timeZone":"Europe/Stockholm","anonymousCapacity":true}""",
            json);
    }

    [Fact]
    public void Verify_AnySingleCharacterReplaced_Rejected()
    {
        var key = TestLicenses.Issue();
        Gen.Select(Gen.Int[0, key.Length - 1], Gen.Char[(char)0, (char)255])
            .Where(t => key[t.Item1] != t.Item2)
            .Sample((index, replacement) =>
            {
                var altered = string.Concat(key.AsSpan(0, index), replacement.ToString(), key.AsSpan(index + 1));
                return !TestLicenses.Verifier.Verify(altered, Midyear).IsValid;
            }, iter: 3000);
    }

    [Fact]
    public void Verify_AnySingleBitFlipped_Rejected()
    {
        var key = TestLicenses.Issue();
        Gen.Select(Gen.Int[0, key.Length - 1], Gen.Int[0, 7])
            .Sample((index, bit) =>
            {
                var chars = key.ToCharArray();
                chars[index] = (char)(chars[index] ^ (1 << bit));
                return !TestLicenses.Verifier.Verify(new string(chars), Midyear).IsValid;
            }, iter: 3000);
    }

    [Fact]
    public void Verify_EveryPossibleBitFlip_Rejected()
    {
        // The property test samples; the key is short enough to also check every bit of it exhaustively.
        var key = TestLicenses.Issue();
        for (var index = 0; index < key.Length; index++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var chars = key.ToCharArray();
                chars[index] = (char)(chars[index] ^ (1 << bit));
                Assert.False(TestLicenses.Verifier.Verify(new string(chars), Midyear).IsValid, $"bit {bit} of character {index}");
            }
        }
    }

    [Fact]
    public void Verify_AlteredPayloadBytesReencoded_BadSignature()
    {
        // A forger who re-encodes properly gets past the envelope checks and must be stopped by the signature.
        var parts = TestLicenses.Issue().Split('.');
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])).Replace("\"packs\":3", "\"packs\":9", StringComparison.Ordinal);
        var forged = $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{parts[2]}";

        var result = TestLicenses.Verifier.Verify(forged, Midyear);

        Assert.Equal(LicenseFailure.BadSignature, result.Failure);
        Assert.Null(result.Terms);
    }

    [Fact]
    public void Verify_KeysSignedByAnyOtherKey_AlwaysBadSignature()
    {
        Gen.Int[0, 1000].Sample(packs =>
        {
            var key = new LicenseIssuer(TestLicenses.OtherKey).Issue(TestLicenses.Terms(packs));
            return TestLicenses.Verifier.Verify(key, Midyear).Failure == LicenseFailure.BadSignature;
        }, iter: 50);
    }

    [Fact]
    public void Verify_WithAnotherPublicKey_BadSignature()
    {
        var otherVerifier = new LicenseVerifier(TestLicenses.PublicOnly(TestLicenses.OtherKey));

        var result = otherVerifier.Verify(TestLicenses.Issue(), Midyear);

        Assert.Equal(LicenseFailure.BadSignature, result.Failure);
    }

    [Fact]
    public void Verify_ExactlyAtValidFrom_Valid() =>
        Assert.True(TestLicenses.Verifier.Verify(TestLicenses.Issue(), TestLicenses.From).IsValid);

    [Fact]
    public void Verify_OneTickBeforeValidFrom_NotYetValid() =>
        Assert.Equal(LicenseFailure.NotYetValid, TestLicenses.Verifier.Verify(TestLicenses.Issue(), TestLicenses.From.AddTicks(-1)).Failure);

    [Fact]
    public void Verify_OneTickBeforeValidTo_Valid() =>
        Assert.True(TestLicenses.Verifier.Verify(TestLicenses.Issue(), TestLicenses.To.AddTicks(-1)).IsValid);

    [Fact]
    public void Verify_ExactlyAtValidTo_Expired()
    {
        var result = TestLicenses.Verifier.Verify(TestLicenses.Issue(), TestLicenses.To);

        Assert.Equal(LicenseFailure.Expired, result.Failure);
        Assert.Contains("2027-01-01T00:00:00Z", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ValidFromInAnotherOffset_ComparesInstants()
    {
        // 01:00+01:00 is midnight UTC: the window is a pair of instants, not of wall-clock readings.
        var terms = TestLicenses.Terms() with { ValidFrom = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.FromHours(1)) };
        var key = TestLicenses.Issue(terms);

        Assert.True(TestLicenses.Verifier.Verify(key, TestLicenses.From).IsValid);
        Assert.Equal(LicenseFailure.NotYetValid, TestLicenses.Verifier.Verify(key, TestLicenses.From.AddTicks(-1)).Failure);
    }

    [Fact]
    public void VerifyAuthentic_ExpiredKey_ValidForReplay() =>
        Assert.True(TestLicenses.Verifier.VerifyAuthentic(TestLicenses.Issue()).IsValid);

    [Theory]
    [InlineData(null, KeyPart.Envelope)]
    [InlineData("", KeyPart.Envelope)]
    [InlineData("TALLY1", KeyPart.Envelope)]
    [InlineData("TALLY1.abc", KeyPart.Envelope)]
    [InlineData("TALLY1.abc.def.ghi", KeyPart.Envelope)]
    [InlineData("LICENSE.eyJ2IjoxfQ.AAAA", KeyPart.Prefix)]
    [InlineData("tally1.eyJ2IjoxfQ.AAAA", KeyPart.Prefix)]
    [InlineData("TALLY1..AAAA", KeyPart.Payload)]
    [InlineData("TALLY1.eyJ2Ijox!Q.AAAA", KeyPart.Payload)]
    [InlineData("TALLY1.eyJ2IjoxfQ==.AAAA", KeyPart.Payload)]
    [InlineData("TALLY1.eyJ2IjoxfQ.", KeyPart.Signature)]
    [InlineData("TALLY1.eyJ2IjoxfQ.AA AA", KeyPart.Signature)]
    [InlineData("TALLY1.eyJ2IjoxfQ.AAAA", KeyPart.Signature)]
    public void Verify_MalformedKey_ReportsThePart(string? key, KeyPart part)
    {
        var result = TestLicenses.Verifier.Verify(key, Midyear);

        Assert.Equal(LicenseFailure.Malformed, result.Failure);
        Assert.Equal(part, result.Part);
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
    }

    [Fact]
    public void Verify_TooLong_MalformedEnvelope()
    {
        var result = TestLicenses.Verifier.Verify("TALLY1." + new string('A', LicenseKey.MaxLength) + ".AAAA", Midyear);

        Assert.Equal((LicenseFailure.Malformed, KeyPart.Envelope), (result.Failure, result.Part));
    }

    [Fact]
    public void Verify_FutureEnvelopeVersion_UnsupportedVersion()
    {
        var key = "TALLY2" + TestLicenses.Issue()[6..];

        Assert.Equal(LicenseFailure.UnsupportedVersion, TestLicenses.Verifier.Verify(key, Midyear).Failure);
    }

    [Fact]
    public void Verify_SignedPayloadOfFutureVersion_UnsupportedVersion()
    {
        var key = SignRaw("""{"v":2,"licenseId":"X"}""");

        Assert.Equal(LicenseFailure.UnsupportedVersion, TestLicenses.Verifier.Verify(key, Midyear).Failure);
    }

    [Fact]
    public void Verify_SignedNegativePacks_InvalidTerms()
    {
        var json = Encoding.UTF8.GetString(LicensePayload.Write(TestLicenses.Terms())).Replace("\"packs\":3", "\"packs\":-3", StringComparison.Ordinal);

        var result = TestLicenses.Verifier.Verify(SignRaw(json), Midyear);

        Assert.Equal(LicenseFailure.InvalidTerms, result.Failure);
        Assert.Contains("packs", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_SignedUnknownTimeZone_InvalidTerms()
    {
        var json = Encoding.UTF8.GetString(LicensePayload.Write(TestLicenses.Terms())).Replace("Europe/Stockholm", "Mars/Olympus", StringComparison.Ordinal);

        Assert.Equal(LicenseFailure.InvalidTerms, TestLicenses.Verifier.Verify(SignRaw(json), Midyear).Failure);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"licenseId":"X"}""")]
    [InlineData("""{"v":1,"licenseId":"X"}""")]
    [InlineData("""{"v":1,"v":1}""")]
    public void Verify_SignedButUnreadablePayload_MalformedPayload(string json)
    {
        var result = TestLicenses.Verifier.Verify(SignRaw(json), Midyear);

        Assert.Equal((LicenseFailure.Malformed, KeyPart.Payload), (result.Failure, result.Part));
    }

    [Fact]
    public void Verify_SignedPayloadWithUnknownMember_Malformed()
    {
        var json = Encoding.UTF8.GetString(LicensePayload.Write(TestLicenses.Terms())).Replace("{\"v\":1,", "{\"v\":1,\"seats\":99,", StringComparison.Ordinal);

        var result = TestLicenses.Verifier.Verify(SignRaw(json), Midyear);

        Assert.Equal(LicenseFailure.Malformed, result.Failure);
        Assert.Contains("seats", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_InvalidTerms_Throws() =>
        Assert.Throws<ArgumentException>(() => TestLicenses.Issue(TestLicenses.Terms(packs: -1)));

    [Fact]
    public void ReadUnverified_KeyFromAnotherVendor_StillShowsTerms()
    {
        var key = new LicenseIssuer(TestLicenses.OtherKey).Issue(TestLicenses.Terms());

        var result = LicenseKey.ReadUnverified(key);

        Assert.True(result.IsValid);
        Assert.Equal("Acme Analytics", result.Terms.Customer);
    }

    [Fact]
    public void ImportPublicKey_PrivateKeyPem_Refused()
    {
        var imported = SigningKeys.ImportPublicKey(SigningKeys.ExportSigningKeyPem(TestLicenses.VendorKey));

        Assert.Null(imported.Value);
        Assert.Contains("PUBLIC KEY", imported.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportSigningKey_OtherCurve_Refused()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        var imported = SigningKeys.ImportSigningKey(p384.ExportPkcs8PrivateKeyPem());

        Assert.Null(imported.Value);
        Assert.Contains("P-256", imported.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ImportPublicKey_RsaKey_Refused()
    {
        using var rsa = RSA.Create(2048);

        var imported = SigningKeys.ImportPublicKey(rsa.ExportSubjectPublicKeyInfoPem());

        Assert.Null(imported.Value);
        Assert.NotNull(imported.Error);
    }

    [Fact]
    public void ImportPublicKey_NotPem_Refused()
    {
        var imported = SigningKeys.ImportPublicKey("hello");

        Assert.Null(imported.Value);
        Assert.NotNull(imported.Error);
    }

    [Fact]
    public void LoadFromFiles_ValidKeyWithTrailingNewline_Valid()
    {
        var dir = Directory.CreateTempSubdirectory("tally-license-");
        try
        {
            var licensePath = Path.Combine(dir.FullName, "license.key");
            var publicPath = Path.Combine(dir.FullName, LicenseFiles.PublicKeyFileName);
            File.WriteAllText(licensePath, TestLicenses.Issue() + "\n");
            File.WriteAllText(publicPath, SigningKeys.ExportPublicKeyPem(TestLicenses.VendorKey));

            var result = LicenseFiles.Load(licensePath, publicPath, Midyear);

            Assert.True(result.IsValid, result.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string SignRaw(string json)
    {
        var payload = Encoding.UTF8.GetBytes(json);
        var signature = TestLicenses.VendorKey.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return LicenseKey.Encode(payload, signature);
    }
}
