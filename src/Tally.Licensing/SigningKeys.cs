using System.Security.Cryptography;

namespace Tally.Licensing;

/// <summary>
/// ECDSA P-256 key pairs for license keys, stored as PEM: the signing key as PKCS#8 (<c>PRIVATE KEY</c>), the public
/// key as SubjectPublicKeyInfo (<c>PUBLIC KEY</c>). Imports accept only those labels and only the P-256 curve, so a
/// key of another kind fails loudly at load time rather than verifying nothing.
/// </summary>
public static class SigningKeys
{
    private const string P256Oid = "1.2.840.10045.3.1.7";

    public static ECDsa Generate() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static string ExportSigningKeyPem(ECDsa key) => key.ExportPkcs8PrivateKeyPem();

    public static string ExportPublicKeyPem(ECDsa key) => key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Reads a PKCS#8 PEM signing key; returns null and a reason when it is not a P-256 private key.</summary>
    public static ECDsa? ImportSigningKey(string pem, out string? error) =>
        Import(pem, "PRIVATE KEY", (key, der) => key.ImportPkcs8PrivateKey(der, out _), out error);

    /// <summary>Reads a SubjectPublicKeyInfo PEM public key; returns null and a reason when it is not a P-256 public key.</summary>
    public static ECDsa? ImportPublicKey(string pem, out string? error) =>
        Import(pem, "PUBLIC KEY", (key, der) => key.ImportSubjectPublicKeyInfo(der, out _), out error);

    private static ECDsa? Import(string pem, string label, Action<ECDsa, byte[]> import, out string? error)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            error = $"no PEM block found (expected '-----BEGIN {label}-----')";
            return null;
        }
        var found = pem[fields.Label];
        if (found != label)
        {
            error = $"expected a '{label}' PEM block, found '{found}'";
            return null;
        }
        var key = ECDsa.Create();
        try
        {
            import(key, Convert.FromBase64String(pem[fields.Base64Data]));
            if (!IsP256(key))
            {
                key.Dispose();
                error = "the key is not on the P-256 curve";
                return null;
            }
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            error = $"not an ECDSA key: {e.Message}";
            return null;
        }
        error = null;
        return key;
    }

    internal static bool IsP256(ECDsa key)
    {
        var curve = key.ExportParameters(false).Curve;
        return curve.IsNamed && (curve.Oid.Value == P256Oid || curve.Oid.FriendlyName is "nistP256" or "ECDSA_P256");
    }
}
