using System.Security.Cryptography;
using Tally.Metering;

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

    /// <summary>Reads a PKCS#8 PEM signing key, or says why it is not a P-256 private key.</summary>
    public static Outcome<ECDsa, string> ImportSigningKey(string pem) =>
        Import(pem, "PRIVATE KEY", (key, der) => key.ImportPkcs8PrivateKey(der, out _));

    /// <summary>Reads a SubjectPublicKeyInfo PEM public key, or says why it is not a P-256 public key.</summary>
    public static Outcome<ECDsa, string> ImportPublicKey(string pem) =>
        Import(pem, "PUBLIC KEY", (key, der) => key.ImportSubjectPublicKeyInfo(der, out _));

    private static Outcome<ECDsa, string> Import(string pem, string label, Action<ECDsa, byte[]> import)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            return $"no PEM block found (expected '-----BEGIN {label}-----')";
        }
        var found = pem[fields.Label];
        if (found != label)
        {
            return $"expected a '{label}' PEM block, found '{found}'";
        }
        var key = ECDsa.Create();
        try
        {
            import(key, Convert.FromBase64String(pem[fields.Base64Data]));
            if (!IsP256(key))
            {
                key.Dispose();
                return "the key is not on the P-256 curve";
            }
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            return $"not an ECDSA key: {e.Message}";
        }
        return key;
    }

    internal static bool IsP256(ECDsa key)
    {
        var curve = key.ExportParameters(false).Curve;
        return curve.IsNamed && (curve.Oid.Value == P256Oid || curve.Oid.FriendlyName is "nistP256" or "ECDSA_P256");
    }
}
