namespace Tally.Licensing;

/// <summary>File helpers for shells (CLI, server): a key file holds one key, surrounding whitespace ignored.</summary>
public static class LicenseFiles
{
    public const string SigningKeyFileName = "signing-key.pem";
    public const string PublicKeyFileName = "public-key.pem";

    /// <summary>Reads a key file. Trailing newlines from editors are not part of the key.</summary>
    public static string ReadKey(string path) => File.ReadAllText(path).Trim();

    /// <summary>
    /// Loads and verifies a license from a key file and a public-key PEM file at <paramref name="now"/>.
    /// A public key that cannot be read is a <see cref="LicenseFailure.BadSignature"/>-class problem for the
    /// operator, so it is reported as a value too rather than thrown.
    /// </summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static LicenseVerification Load(string licensePath, string publicKeyPath, DateTimeOffset now)
    {
        var imported = SigningKeys.ImportPublicKey(File.ReadAllText(publicKeyPath));
        if (!imported.IsOk)
        {
            return LicenseVerification.Failed(LicenseFailure.BadSignature, $"cannot use public key {publicKeyPath}: {imported.Error}");
        }
        using var publicKey = imported.Value;
        return new LicenseVerifier(publicKey).Verify(ReadKey(licensePath), now);
    }
}
