using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Tally.Metering;

namespace Tally.Licensing;

/// <summary>
/// The payload of a key: canonical JSON (fixed member order, no whitespace, UTF-8), written once by the issuer.
/// The verifier reads the exact signed bytes and never re-serializes them, so "canonical" only has to make issued
/// keys reproducible and readable, not to make verification depend on formatting.
/// </summary>
internal static class LicensePayload
{
    public const int Version = 1;

    // Whole seconds print without a fraction; sub-second instants keep theirs, so every instant round-trips.
    private const string InstantFormat = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'";

    private static readonly string[] Members =
    [
        "v", "licenseId", "customer", "issuedAt", "validFrom", "validTo", "mode", "unitMinutes", "packs",
        "packMinutes", "overage", "professionalSeats", "analyzerSeats", "timeZone", "anonymousCapacity",
    ];

    public static byte[] Write(LicenseTerms terms)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("v", Version);
            json.WriteString("licenseId", terms.LicenseId);
            json.WriteString("customer", terms.Customer);
            json.WriteString("issuedAt", FormatInstant(terms.IssuedAt));
            json.WriteString("validFrom", FormatInstant(terms.ValidFrom));
            json.WriteString("validTo", FormatInstant(terms.ValidTo));
            json.WriteString("mode", terms.Mode == CountingMode.App ? "app" : "device");
            json.WriteNumber("unitMinutes", terms.UnitMinutes);
            json.WriteNumber("packs", terms.Packs);
            json.WriteNumber("packMinutes", terms.PackMinutes);
            json.WriteString("overage", terms.Overage.ToString());
            json.WriteNumber("professionalSeats", terms.ProfessionalSeats);
            json.WriteNumber("analyzerSeats", terms.AnalyzerSeats);
            json.WriteString("timeZone", terms.TimeZoneId);
            json.WriteBoolean("anonymousCapacity", terms.AnonymousCapacity);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static string FormatInstant(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString(InstantFormat, CultureInfo.InvariantCulture);

    /// <summary>Reads signed bytes into terms. Strict: every member present exactly once, nothing unknown.</summary>
    public static LicenseVerification Read(ReadOnlySpan<byte> payload)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException e)
        {
            return Malformed($"payload is not JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Malformed("payload is not a JSON object");
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var member in root.EnumerateObject())
            {
                if (!seen.Add(member.Name))
                {
                    return Malformed($"member '{member.Name}' appears twice");
                }
            }
            // The version decides how to read the rest, so it is checked before anything else is required.
            if (!root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var version))
            {
                return Malformed("member 'v' (payload version) is missing or not an integer");
            }
            if (version != Version)
            {
                return LicenseVerification.Failed(LicenseFailure.UnsupportedVersion, $"payload version {version} is not supported (this build reads version {Version})");
            }
            foreach (var name in seen)
            {
                if (Array.IndexOf(Members, name) < 0)
                {
                    return Malformed($"unknown member '{name}'");
                }
            }
            var reader = new MemberReader(root);
            var terms = new LicenseTerms
            {
                LicenseId = reader.String("licenseId"),
                Customer = reader.String("customer"),
                IssuedAt = reader.Instant("issuedAt"),
                ValidFrom = reader.Instant("validFrom"),
                ValidTo = reader.Instant("validTo"),
                Mode = reader.Mode("mode"),
                UnitMinutes = reader.Int("unitMinutes"),
                Packs = reader.Int("packs"),
                PackMinutes = reader.Int("packMinutes"),
                Overage = reader.Overage("overage"),
                ProfessionalSeats = reader.Int("professionalSeats"),
                AnalyzerSeats = reader.Int("analyzerSeats"),
                TimeZoneId = reader.String("timeZone"),
                AnonymousCapacity = reader.Bool("anonymousCapacity"),
            };
            return reader.Problem is { } problem ? Malformed(problem) : LicenseVerification.Valid(terms);
        }
    }

    private static LicenseVerification Malformed(string message) =>
        LicenseVerification.Failed(LicenseFailure.Malformed, message, KeyPart.Payload);

    /// <summary>Collects the first problem instead of throwing, so one object initializer reads every member.</summary>
    private sealed class MemberReader(JsonElement root)
    {
        public string? Problem { get; private set; }

        public string String(string name) =>
            Get(name, JsonValueKind.String) is { } e ? e.GetString()! : "";

        public int Int(string name)
        {
            if (Get(name, JsonValueKind.Number) is not { } e)
            {
                return 0;
            }
            if (!e.TryGetInt32(out var value))
            {
                Fail($"member '{name}' is not a 32-bit integer");
            }
            return value;
        }

        public bool Bool(string name)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                Fail($"member '{name}' is missing or not a boolean");
                return false;
            }
            return e.GetBoolean();
        }

        public DateTimeOffset Instant(string name)
        {
            var text = String(name);
            if (DateTimeOffset.TryParseExact(text, InstantFormat, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
            {
                return instant;
            }
            Fail($"member '{name}' is not a UTC instant like 2026-01-01T00:00:00Z");
            return default;
        }

        public CountingMode Mode(string name)
        {
            var text = String(name);
            switch (text)
            {
                case "device":
                    return CountingMode.Device;
                case "app":
                    return CountingMode.App;
                default:
                    Fail($"member '{name}' must be 'device' or 'app'");
                    return CountingMode.Device;
            }
        }

        public OverageAllowance Overage(string name)
        {
            var text = String(name);
            if (!OverageAllowance.TryParse(text, out var overage))
            {
                Fail($"member '{name}' must be 'none', 'unlimited' or a number of minutes");
            }
            return overage;
        }

        private JsonElement? Get(string name, JsonValueKind kind)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind != kind)
            {
                Fail($"member '{name}' is missing or not a {kind.ToString().ToLowerInvariant()}");
                return null;
            }
            return e;
        }

        private void Fail(string problem) => Problem ??= problem;
    }
}
