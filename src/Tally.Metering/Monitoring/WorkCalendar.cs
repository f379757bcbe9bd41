using System.Collections.Frozen;
using PublicHoliday;

namespace Tally.Metering;

/// <summary>
/// Which local days a tenant's organisation works: a day is closed when it is a public holiday of
/// <see cref="Country"/> (from the PublicHoliday library) or one of the tenant's own <see cref="ClosureDays"/>.
/// The forecaster reads history and projects the days ahead with it, so a holiday neither drags the weekday
/// average down nor is expected to look like a working day. Immutable; the holiday lists are computed per year
/// on first use (cached, thread-safe).
/// </summary>
public sealed class WorkCalendar
{
    /// <summary>The holidays setting that takes the country of the license's zone.</summary>
    public const string Auto = "auto";

    /// <summary>The holidays setting with no public holidays.</summary>
    public const string NoHolidays = "none";

    /// <summary>How many closure days a tenant may list: enough for years of them, small enough to keep in memory.</summary>
    public const int MaxClosureDays = 1000;

    private readonly IPublicHolidays? _holidays;
    private readonly FrozenSet<DateOnly> _closures;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, FrozenSet<DateOnly>> _holidaysByYear = new();

    private WorkCalendar(string? country, IPublicHolidays? holidays, IReadOnlyList<DateOnly> closures)
    {
        Country = country;
        _holidays = holidays;
        ClosureDays = closures;
        _closures = closures.ToFrozenSet();
    }

    /// <summary>No holidays and no closures: every Monday–Friday is a working day.</summary>
    public static WorkCalendar None { get; } = new(null, null, []);

    /// <summary>The ISO 3166-1 alpha-2 code whose public holidays close days (upper case), or null for none.</summary>
    public string? Country { get; }

    /// <summary>The tenant's own closure days, sorted, without repeats.</summary>
    public IReadOnlyList<DateOnly> ClosureDays { get; }

    /// <summary>The countries whose public holidays are known, as ISO 3166-1 alpha-2 codes.</summary>
    public static IReadOnlyList<string> Countries => CountryList;

    /// <summary>
    /// A calendar of <paramref name="country"/>'s public holidays (null or empty: none) and the given closure days,
    /// or what is wrong with them.
    /// </summary>
    public static Outcome<WorkCalendar, string> Create(string? country, IEnumerable<DateOnly>? closureDays)
    {
        IPublicHolidays? holidays = null;
        string? code = null;
        if (!string.IsNullOrEmpty(country))
        {
            code = country.ToUpperInvariant();
            if (code.Length != 2 || !ZonesByCountry.ContainsKey(code))
            {
                return $"'{country}' is not a country whose public holidays are known; use one of {string.Join(", ", Countries)}";
            }
            holidays = PublicHolidayFactory.GetPublicHolidayForCountry(code);
        }
        var closures = (closureDays ?? []).Distinct().Order().ToList();
        if (closures.Count > MaxClosureDays)
        {
            return $"at most {MaxClosureDays} closure days, not {closures.Count}";
        }
        return code is null && closures.Count == 0 ? None : new WorkCalendar(code, holidays, closures);
    }

    /// <summary>
    /// The country whose zone <paramref name="zone"/> is (by the IANA zone table), when its public holidays are known:
    /// the default calendar of a tenant that did not choose one. UTC and zones shared by no listed country give null.
    /// </summary>
    public static string? CountryOfZone(TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var id = zone.Id;
        if (!zone.HasIanaId && TimeZoneInfo.TryConvertWindowsIdToIanaId(id, out var iana))
        {
            id = iana;
        }
        return CountryByZone.GetValueOrDefault(id);
    }

    /// <summary>
    /// The country a holidays setting names in <paramref name="zone"/>: <see cref="Auto"/> (any case) the zone's
    /// (<see cref="CountryOfZone"/>), <see cref="NoHolidays"/> none, anything else itself, for <see cref="Create"/> to check.
    /// The server's stored setting and <c>tally report --holidays</c> both read it here.
    /// </summary>
    public static string? CountryOf(string holidays, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(holidays);
        return holidays.Equals(Auto, StringComparison.OrdinalIgnoreCase) ? CountryOfZone(zone)
            : holidays.Equals(NoHolidays, StringComparison.OrdinalIgnoreCase) ? null
            : holidays;
    }

    /// <summary>Whether the local day is a public holiday or a closure day (weekends are the forecaster's own business).</summary>
    public bool IsClosed(DateOnly day) =>
        _closures.Contains(day) || (_holidays is not null && HolidaysOf(day.Year).Contains(day));

    private FrozenSet<DateOnly> HolidaysOf(int year) =>
        _holidaysByYear.GetOrAdd(year, y => y is < 1900 or > 2200
            ? FrozenSet<DateOnly>.Empty
            : _holidays!.PublicHolidays(y).Select(DateOnly.FromDateTime).ToFrozenSet());

    public override string ToString() =>
        (Country ?? "no holidays") + (ClosureDays.Count > 0 ? $" + {ClosureDays.Count} closure day(s)" : "");

    // The IANA zone table (zone.tab) for the countries the PublicHoliday library knows: the default calendar of a
    // tenant follows its license's zone. A zone listed for one country only; links (US/Eastern) are not listed.
    private static readonly FrozenDictionary<string, string> ZonesByCountry = new Dictionary<string, string>
    {
        ["AT"] = "Europe/Vienna",
        ["AU"] = "Antarctica/Macquarie Australia/Adelaide Australia/Brisbane Australia/Broken_Hill Australia/Darwin Australia/Eucla Australia/Hobart Australia/Lindeman Australia/Lord_Howe Australia/Melbourne Australia/Perth Australia/Sydney",
        ["BE"] = "Europe/Brussels",
        ["BR"] = "America/Araguaina America/Bahia America/Belem America/Boa_Vista America/Campo_Grande America/Cuiaba America/Eirunepe America/Fortaleza America/Maceio America/Manaus America/Noronha America/Porto_Velho America/Recife America/Rio_Branco America/Santarem America/Sao_Paulo",
        ["CA"] = "America/Atikokan America/Blanc-Sablon America/Cambridge_Bay America/Creston America/Dawson America/Dawson_Creek America/Edmonton America/Fort_Nelson America/Glace_Bay America/Goose_Bay America/Halifax America/Inuvik America/Iqaluit America/Moncton America/Rankin_Inlet America/Regina America/Resolute America/St_Johns America/Swift_Current America/Toronto America/Vancouver America/Whitehorse America/Winnipeg",
        ["CH"] = "Europe/Zurich",
        ["CZ"] = "Europe/Prague",
        ["DE"] = "Europe/Berlin Europe/Busingen",
        ["DK"] = "Europe/Copenhagen",
        ["EE"] = "Europe/Tallinn",
        ["ES"] = "Africa/Ceuta Atlantic/Canary Europe/Madrid",
        ["FI"] = "Europe/Helsinki",
        ["FR"] = "Europe/Paris",
        ["GB"] = "Europe/London",
        ["GR"] = "Europe/Athens",
        ["HR"] = "Europe/Zagreb",
        ["HU"] = "Europe/Budapest",
        ["IE"] = "Europe/Dublin",
        ["IT"] = "Europe/Rome",
        ["JP"] = "Asia/Tokyo",
        ["KZ"] = "Asia/Almaty Asia/Aqtau Asia/Aqtobe Asia/Atyrau Asia/Oral Asia/Qostanay Asia/Qyzylorda",
        ["LT"] = "Europe/Vilnius",
        ["LU"] = "Europe/Luxembourg",
        ["LV"] = "Europe/Riga",
        ["MX"] = "America/Bahia_Banderas America/Cancun America/Chihuahua America/Ciudad_Juarez America/Hermosillo America/Matamoros America/Mazatlan America/Merida America/Mexico_City America/Monterrey America/Ojinaga America/Tijuana",
        ["NL"] = "Europe/Amsterdam",
        ["NO"] = "Europe/Oslo",
        ["NZ"] = "Pacific/Auckland Pacific/Chatham",
        ["PL"] = "Europe/Warsaw",
        ["PT"] = "Atlantic/Azores Atlantic/Madeira Europe/Lisbon",
        ["RO"] = "Europe/Bucharest",
        ["RS"] = "Europe/Belgrade",
        ["SE"] = "Europe/Stockholm",
        ["SI"] = "Europe/Ljubljana",
        ["SK"] = "Europe/Bratislava",
        ["TR"] = "Europe/Istanbul",
        ["US"] = "America/Adak America/Anchorage America/Boise America/Chicago America/Denver America/Detroit America/Indiana/Indianapolis America/Indiana/Knox America/Indiana/Marengo America/Indiana/Petersburg America/Indiana/Tell_City America/Indiana/Vevay America/Indiana/Vincennes America/Indiana/Winamac America/Juneau America/Kentucky/Louisville America/Kentucky/Monticello America/Los_Angeles America/Menominee America/Metlakatla America/New_York America/Nome America/North_Dakota/Beulah America/North_Dakota/Center America/North_Dakota/New_Salem America/Phoenix America/Sitka America/Yakutat Pacific/Honolulu",
        ["ZA"] = "Africa/Johannesburg",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, string> CountryByZone = ZonesByCountry
        .SelectMany(c => c.Value.Split(' ').Select(zone => KeyValuePair.Create(zone, c.Key)))
        .ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly string[] CountryList = [.. ZonesByCountry.Keys.Order(StringComparer.Ordinal)];
}
