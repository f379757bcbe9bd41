namespace Tally.Contract;

/// <summary>
/// <c>PUT /api/v1/calendar</c>: the tenant's working calendar, replaced whole. <c>Holidays</c>: <c>auto</c> (default: the
/// public holidays of the country the license's time zone is in), <c>none</c>, or an ISO 3166-1 alpha-2 country code;
/// <c>ClosedDays</c>: the organisation's own closure days as ISO dates (<c>2026-12-24</c>), at most 1,000.
/// </summary>
public sealed record WorkCalendarRequest(string? Holidays, IReadOnlyList<string?>? ClosedDays);

/// <summary>
/// <c>GET</c> and <c>PUT /api/v1/calendar</c>: the setting as stored (<c>Holidays</c>, <c>ClosedDays</c>, sorted), the
/// calendar the forecast uses from it in the tenant's <c>TimeZone</c> (<c>HolidayCountry</c>: the country whose public
/// holidays close days, absent for none; with <c>auto</c> it follows the zone), and the next closed days from today
/// (the tenant's local date) so an admin can check them.
/// </summary>
public sealed record WorkCalendarView(
    string Holidays, IReadOnlyList<DateOnly> ClosedDays, string TimeZone, string? HolidayCountry, IReadOnlyList<ClosedDayView> NextClosedDays);

/// <summary>One closed day ahead: <c>Reason</c> is <c>closure</c> (one of the tenant's closed days) or <c>holiday</c> (a public holiday).</summary>
public sealed record ClosedDayView(DateOnly Date, string Reason);
