namespace Tally.Metering;

/// <summary>
/// Monthly prices the advisor compares. Invariants (see <see cref="Validate"/>): the seat price is 0 to
/// <see cref="MaxPrice"/>, the pack price <see cref="MinPackPrice"/> to <see cref="MaxPrice"/>, pack minutes 1 to
/// <see cref="MaxPackMinutes"/>. Within them no figure the advisor computes overflows a decimal (the break-even is at most
/// 10^22, a user's cost at most 10^28 even at long.MaxValue minutes). Currency is whatever the caller uses, consistently.
/// </summary>
public readonly record struct SeatPrices(decimal AnalyzerSeatPerMonth, decimal CapacityPackPerMonth, long PackMinutes)
{
    public const decimal MaxPrice = 1_000_000_000m;
    public const decimal MinPackPrice = 0.0001m;
    public const long MaxPackMinutes = 1_000_000_000;

    /// <summary>Price of one capacity minute: <c>pack price ÷ pack minutes</c>.</summary>
    public decimal PricePerMinute => CapacityPackPerMonth / PackMinutes;

    /// <summary>Minutes a month at which a seat and capacity cost the same: <c>seat price ÷ pack price × pack minutes</c>.</summary>
    public decimal BreakEvenMinutes => AnalyzerSeatPerMonth / CapacityPackPerMonth * PackMinutes;

    /// <summary>What <paramref name="minutes"/> a month cost on capacity: <c>minutes ÷ pack minutes × pack price</c>.</summary>
    public decimal CapacityCost(long minutes) => (decimal)minutes / PackMinutes * CapacityPackPerMonth;

    /// <summary>The first problem with these prices, naming the price as the API does (seatPrice, packPrice, packMinutes), or null when they are usable.</summary>
    public string? Validate() =>
        AnalyzerSeatPerMonth is < 0 or > MaxPrice ? $"seatPrice: the analyzer seat price must be between 0 and {MaxPrice:0}"
        : CapacityPackPerMonth is < MinPackPrice or > MaxPrice ? $"packPrice: the capacity pack price must be between {MinPackPrice} and {MaxPrice:0}"
        : PackMinutes is < 1 or > MaxPackMinutes ? $"packMinutes: the pack size must be 1 to {MaxPackMinutes} minutes"
        : null;
}

/// <summary>One user's minutes in a month and how they are licensed now.</summary>
public readonly record struct UserMonthlyMinutes(string User, Allocation Allocation, long Minutes);

/// <summary>
/// A suggested move for one user. <see cref="MonthlySaving"/> is positive: the current cost minus the suggested cost,
/// where capacity costs <see cref="CapacityCost"/> and a seat costs <see cref="SeatCost"/>.
/// </summary>
public sealed record SeatRecommendation(
    string User,
    Allocation From,
    Allocation To,
    long Minutes,
    decimal CapacityCost,
    decimal SeatCost,
    decimal MonthlySaving);

/// <summary>
/// The advisor's answer. Each list is ordered by saving, largest first, then by user.
/// <see cref="TotalMonthlySaving"/> is the sum of both lists' savings.
/// </summary>
public sealed record SeatAdvice(
    SeatPrices Prices,
    decimal BreakEvenMinutes,
    IReadOnlyList<SeatRecommendation> ToAnalyzerSeat,
    IReadOnlyList<SeatRecommendation> ToCapacity,
    decimal TotalMonthlySaving);

/// <summary>
/// Compares, per user, a named Analyzer seat with paying for the same minutes from capacity. Capacity users above
/// the break-even are cheaper on a seat; Analyzer users below it are cheaper on capacity; at exactly the break-even
/// nothing changes. Professional users are left alone: they author (R4), which neither alternative allows. Capacity
/// is priced pro rata per minute, the long-run marginal cost; since packs are bought whole, a move saves real money
/// only once the minutes moved change the number of packs bought.
/// </summary>
public static class SeatAdvisor
{
    public static SeatAdvice Advise(SeatPrices prices, IEnumerable<UserMonthlyMinutes> users)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (prices.Validate() is { } problem)
        {
            // The shell validates prices at its edge; reaching here with bad ones is a bug.
            throw new ArgumentException(problem, nameof(prices));
        }

        var breakEven = prices.BreakEvenMinutes;
        var toSeat = new List<SeatRecommendation>();
        var toCapacity = new List<SeatRecommendation>();
        foreach (var user in users)
        {
            var capacityCost = prices.CapacityCost(user.Minutes);
            var seatCost = prices.AnalyzerSeatPerMonth;
            if (user.Allocation == Allocation.Capacity && capacityCost > seatCost)
            {
                toSeat.Add(new SeatRecommendation(user.User, Allocation.Capacity, Allocation.Analyzer, user.Minutes,
                    capacityCost, seatCost, capacityCost - seatCost));
            }
            else if (user.Allocation == Allocation.Analyzer && capacityCost < seatCost)
            {
                toCapacity.Add(new SeatRecommendation(user.User, Allocation.Analyzer, Allocation.Capacity, user.Minutes,
                    capacityCost, seatCost, seatCost - capacityCost));
            }
        }

        toSeat.Sort(BySaving);
        toCapacity.Sort(BySaving);
        var total = toSeat.Sum(r => r.MonthlySaving) + toCapacity.Sum(r => r.MonthlySaving);
        return new SeatAdvice(prices, breakEven, toSeat, toCapacity, total);
    }

    private static int BySaving(SeatRecommendation a, SeatRecommendation b)
    {
        var bySaving = b.MonthlySaving.CompareTo(a.MonthlySaving);
        return bySaving != 0 ? bySaving : string.CompareOrdinal(a.User, b.User);
    }
}
