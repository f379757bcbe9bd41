namespace Tally.Server;

/// <summary>
/// The precision computed figures are sent with. The math keeps full doubles; an answer carries what a reader can use
/// (a tenth of a minute, a tenth of a percent), not <c>-99.75292840415251</c>, which only looks more exact than it is.
/// </summary>
public static class WireNumber
{
    public static double Minutes(double minutes) => Math.Round(minutes, 1, MidpointRounding.AwayFromZero);

    public static double Percent(double percent) => Math.Round(percent, 1, MidpointRounding.AwayFromZero);

    /// <summary>A share of a period (0..1): four decimals keep it exact to about four minutes of a month.</summary>
    public static double Share(double share) => Math.Round(share, 4, MidpointRounding.AwayFromZero);
}
