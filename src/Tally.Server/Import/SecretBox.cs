using System.Security.Cryptography;
using System.Text;

namespace Tally.Server.Import;

/// <summary>
/// Seals what Tally must send on to another service (a source's API key, a certificate and its password), so that a
/// copy of the database alone gives none of it away: AES-256-GCM under a key kept in a file outside the database
/// (<see cref="TallyOptions.SecretsKeyFile"/>, made on first use with owner-only permissions). The context (tenant and
/// source) is bound in as associated data, so a sealed secret moved to another source does not open. Secrets are sealed
/// rather than hashed because Tally has to present them; API keys Tally checks are hashed (<see cref="ApiKeys"/>).
/// </summary>
public sealed class SecretBox
{
    private const byte Version = 1;
    private const int KeyBytes = 32, NonceBytes = 12, TagBytes = 16;
    private readonly Lazy<byte[]> _key;

    /// <summary>
    /// The box whose key is in <paramref name="path"/>, read (or, when missing, made with a new random key) at the first
    /// seal or open: a server that never imports never writes the file.
    /// </summary>
    public SecretBox(string path) => _key = new Lazy<byte[]>(() => KeyFrom(path));

    private static byte[] KeyFrom(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var fresh = RandomNumberGenerator.GetBytes(KeyBytes);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            try
            {
                using var file = new FileStream(full, options);
                file.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(fresh) + "\n"));
            }
            catch (IOException) when (File.Exists(full))
            {
                // Another process made it first: use theirs.
            }
        }
        var text = File.ReadAllText(full).Trim();
        byte[] key;
        try
        {
            key = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{full}: the secrets key must be {KeyBytes} bytes in base64.");
        }
        return key.Length == KeyBytes ? key : throw new InvalidOperationException($"{full}: the secrets key must be {KeyBytes} bytes in base64.");
    }

    /// <summary>Seals <paramref name="secret"/> for <paramref name="context"/>: version, nonce, tag, cipher text.</summary>
    public byte[] Seal(string secret, string context)
    {
        var plain = Encoding.UTF8.GetBytes(secret);
        var box = new byte[1 + NonceBytes + TagBytes + plain.Length];
        box[0] = Version;
        var nonce = box.AsSpan(1, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key.Value, TagBytes);
        aes.Encrypt(nonce, plain, box.AsSpan(1 + NonceBytes + TagBytes), box.AsSpan(1 + NonceBytes, TagBytes), Encoding.UTF8.GetBytes(context));
        CryptographicOperations.ZeroMemory(plain);
        return box;
    }

    /// <summary>Opens what <see cref="Seal"/> made for the same context; throws <see cref="CryptographicException"/> for anything else.</summary>
    public string Open(byte[] box, string context)
    {
        if (box.Length < 1 + NonceBytes + TagBytes || box[0] != Version)
        {
            throw new CryptographicException("Not a sealed secret of this version.");
        }
        var plain = new byte[box.Length - 1 - NonceBytes - TagBytes];
        using var aes = new AesGcm(_key.Value, TagBytes);
        aes.Decrypt(box.AsSpan(1, NonceBytes), box.AsSpan(1 + NonceBytes + TagBytes), box.AsSpan(1 + NonceBytes, TagBytes), plain, Encoding.UTF8.GetBytes(context));
        return Encoding.UTF8.GetString(plain);
    }
}
