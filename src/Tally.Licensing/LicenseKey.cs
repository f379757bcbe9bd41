using System.Buffers.Text;
using System.Security.Cryptography;

namespace Tally.Licensing;

/// <summary>
/// The key envelope: <c>TALLY1.&lt;base64url payload&gt;.&lt;base64url signature&gt;</c>, one printable ASCII line.
/// The payload part carries the exact bytes that were signed; the signature is ECDSA P-256 over SHA-256 of exactly
/// those bytes, in the fixed 64-byte r‖s form.
/// </summary>
public static class LicenseKey
{
    public const string Prefix = "TALLY1";

    /// <summary>Far above any real key (a few hundred characters), low enough that junk input is cheap to refuse.</summary>
    public const int MaxLength = 16 * 1024;

    internal const int SignatureLength = 64;

    internal static string Encode(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature) =>
        $"{Prefix}.{Base64Url.EncodeToString(payload)}.{Base64Url.EncodeToString(signature)}";

    /// <summary>
    /// Splits and decodes the envelope. Returns a failure, or null with the payload and signature bytes.
    /// </summary>
    internal static LicenseVerification? TryDecode(string? text, out byte[] payload, out byte[] signature)
    {
        payload = signature = [];
        if (string.IsNullOrEmpty(text))
        {
            return Malformed(KeyPart.Envelope, "the key is empty");
        }
        if (text.Length > MaxLength)
        {
            return Malformed(KeyPart.Envelope, $"the key is longer than {MaxLength} characters");
        }
        var parts = text.Split('.');
        if (parts.Length != 3)
        {
            return Malformed(KeyPart.Envelope, $"expected 3 parts separated by '.', found {parts.Length}");
        }
        if (parts[0] != Prefix)
        {
            return IsVersionedPrefix(parts[0])
                ? LicenseVerification.Failed(LicenseFailure.UnsupportedVersion, $"key format '{parts[0]}' is not supported (this build reads '{Prefix}')")
                : Malformed(KeyPart.Prefix, $"the key does not start with '{Prefix}.'");
        }
        if (!TryDecodeCanonical(parts[1], out payload) || payload.Length == 0)
        {
            return Malformed(KeyPart.Payload, "the payload is not base64url");
        }
        if (!TryDecodeCanonical(parts[2], out signature))
        {
            return Malformed(KeyPart.Signature, "the signature is not base64url");
        }
        if (signature.Length != SignatureLength)
        {
            return Malformed(KeyPart.Signature, $"the signature is {signature.Length} bytes, expected {SignatureLength}");
        }
        return null;
    }

    /// <summary>
    /// Decodes base64url and insists the text is the one encoding of its bytes. Decoders tolerate padding,
    /// whitespace and stray low bits in the last character; accepting those would let one key have many
    /// spellings, and a changed character would not always mean changed bytes.
    /// </summary>
    private static bool TryDecodeCanonical(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || !Base64Url.IsValid(text.AsSpan()))
        {
            return false;
        }
        try
        {
            bytes = Base64Url.DecodeFromChars(text.AsSpan());
        }
        catch (FormatException)
        {
            return false;
        }
        return Base64Url.EncodeToString(bytes) == text;
    }

    private static bool IsVersionedPrefix(string prefix) =>
        prefix.Length > 5 && prefix.StartsWith("TALLY", StringComparison.Ordinal) && prefix.AsSpan(5).IndexOfAnyExceptInRange('0', '9') < 0;

    private static LicenseVerification Malformed(KeyPart part, string message) =>
        LicenseVerification.Failed(LicenseFailure.Malformed, message, part);

    /// <summary>
    /// Reads a key's terms WITHOUT checking its signature or dates: for displaying a key whose public key is not
    /// at hand. Never use the result to grant anything.
    /// </summary>
    public static LicenseVerification ReadUnverified(string? text) =>
        TryDecode(text, out var payload, out _) ?? LicensePayload.Read(payload);
}

/// <summary>Issues license keys with the vendor's signing key.</summary>
public sealed class LicenseIssuer
{
    private readonly ECDsa _signingKey;

    /// <param name="signingKey">A P-256 private key; the issuer does not take ownership of it.</param>
    public LicenseIssuer(ECDsa signingKey)
    {
        if (!SigningKeys.IsP256(signingKey))
        {
            throw new ArgumentException("License keys are signed with ECDSA P-256.", nameof(signingKey));
        }
        _signingKey = signingKey;
    }

    /// <summary>Writes the payload once and signs exactly those bytes.</summary>
    /// <exception cref="ArgumentException">The terms are invalid: validate them first (<see cref="LicenseTerms.Validate"/>).</exception>
    public string Issue(LicenseTerms terms)
    {
        if (terms.Validate() is { } problem)
        {
            throw new ArgumentException($"Cannot issue a license with invalid terms: {problem}.", nameof(terms));
        }
        var payload = LicensePayload.Write(terms);
        var signature = _signingKey.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return LicenseKey.Encode(payload, signature);
    }
}

/// <summary>Verifies license keys against the one pinned public key.</summary>
public sealed class LicenseVerifier
{
    private readonly ECDsa _publicKey;

    /// <param name="publicKey">The vendor's P-256 public key; the verifier does not take ownership of it.</param>
    public LicenseVerifier(ECDsa publicKey)
    {
        if (!SigningKeys.IsP256(publicKey))
        {
            throw new ArgumentException("License keys are verified with ECDSA P-256.", nameof(publicKey));
        }
        _publicKey = publicKey;
    }

    /// <summary>
    /// Verifies the envelope, the signature over the exact payload bytes, the payload, the terms and finally that
    /// <paramref name="now"/> lies in the half-open validity window. Nothing is deserialized before the signature holds.
    /// </summary>
    public LicenseVerification Verify(string? key, DateTimeOffset now)
    {
        var authentic = VerifyAuthentic(key);
        if (!authentic.IsValid)
        {
            return authentic;
        }
        var terms = authentic.Terms;
        if (now < terms.ValidFrom)
        {
            return LicenseVerification.Failed(LicenseFailure.NotYetValid,
                $"license {terms.LicenseId} is valid from {LicensePayload.FormatInstant(terms.ValidFrom)}");
        }
        if (now >= terms.ValidTo)
        {
            return LicenseVerification.Failed(LicenseFailure.Expired,
                $"license {terms.LicenseId} expired at {LicensePayload.FormatInstant(terms.ValidTo)}");
        }
        return authentic;
    }

    /// <summary>
    /// Everything <see cref="Verify"/> checks except the dates: for metering a past event log, where the meter
    /// itself denies <c>license-expired</c> event by event from the validity window in the options.
    /// </summary>
    public LicenseVerification VerifyAuthentic(string? key)
    {
        if (LicenseKey.TryDecode(key, out var payload, out var signature) is { } malformed)
        {
            return malformed;
        }
        if (!_publicKey.VerifyData(payload, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return LicenseVerification.Failed(LicenseFailure.BadSignature,
                "the signature does not match: the key was altered or signed by another vendor key");
        }
        var read = LicensePayload.Read(payload);
        if (!read.IsValid)
        {
            return read;
        }
        return read.Terms.Validate() is { } problem
            ? LicenseVerification.Failed(LicenseFailure.InvalidTerms, problem)
            : read;
    }
}
