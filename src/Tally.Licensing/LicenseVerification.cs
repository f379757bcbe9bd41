using System.Diagnostics.CodeAnalysis;

namespace Tally.Licensing;

/// <summary>Why a license key was refused.</summary>
public enum LicenseFailure : byte
{
    None,
    /// <summary>The key is not a well-formed envelope or payload; <see cref="LicenseVerification.Part"/> says which part.</summary>
    Malformed,
    /// <summary>The signature does not match the payload under the pinned public key: altered, or signed by another key.</summary>
    BadSignature,
    /// <summary>The instant is at or after the end of the validity window.</summary>
    Expired,
    /// <summary>The instant is before the start of the validity window.</summary>
    NotYetValid,
    /// <summary>An envelope or payload version this build does not know.</summary>
    UnsupportedVersion,
    /// <summary>Authentic, but the terms break a bound (for example negative packs).</summary>
    InvalidTerms,
}

/// <summary>The part of a key a <see cref="LicenseFailure.Malformed"/> failure is about.</summary>
public enum KeyPart : byte
{
    None,
    /// <summary>The whole string: empty, too long, or not three dot-separated parts.</summary>
    Envelope,
    Prefix,
    Payload,
    Signature,
}

/// <summary>The outcome of verifying a license key: the terms, or a failure with a reason and a message for people.</summary>
public sealed record LicenseVerification
{
    private LicenseVerification(LicenseTerms? terms, LicenseFailure failure, KeyPart part, string message)
    {
        Terms = terms;
        Failure = failure;
        Part = part;
        Message = message;
    }

    /// <summary>The verified terms; null exactly when <see cref="Failure"/> is not <see cref="LicenseFailure.None"/>.</summary>
    public LicenseTerms? Terms { get; }

    public LicenseFailure Failure { get; }

    public KeyPart Part { get; }

    public string Message { get; }

    [MemberNotNullWhen(true, nameof(Terms))]
    public bool IsValid => Terms is not null;

    public static LicenseVerification Valid(LicenseTerms terms) => new(terms, LicenseFailure.None, KeyPart.None, "valid");

    public static LicenseVerification Failed(LicenseFailure failure, string message, KeyPart part = KeyPart.None) =>
        failure == LicenseFailure.None
            ? throw new ArgumentException("A failure needs a reason.", nameof(failure))
            : new(null, failure, part, message);

    public override string ToString() => IsValid ? "valid" : $"{Failure.ToWire()}: {Message}";
}

public static class LicenseFailureNames
{
    /// <summary>The kebab-case name used in CLI output and the API.</summary>
    public static string ToWire(this LicenseFailure failure) => failure switch
    {
        LicenseFailure.None => "valid",
        LicenseFailure.Malformed => "malformed",
        LicenseFailure.BadSignature => "bad-signature",
        LicenseFailure.Expired => "expired",
        LicenseFailure.NotYetValid => "not-yet-valid",
        LicenseFailure.UnsupportedVersion => "unsupported-version",
        _ => "invalid-terms",
    };
}
