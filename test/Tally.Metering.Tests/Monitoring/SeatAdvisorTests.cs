namespace Tally.Metering.Tests.Monitoring;

/// <summary>Seat advisor: seat 40 a month, pack 200 a month for 1,000 minutes, so a minute costs 0.2 and break-even is 200 minutes.</summary>
public class SeatAdvisorTests
{
    private static readonly SeatPrices Prices = new(40m, 200m, 1000);

    [Fact]
    public void Prices_BreakEvenAndMinuteCost_AreHandComputed()
    {
        Assert.Equal(200m, Prices.BreakEvenMinutes);
        Assert.Equal(0.2m, Prices.PricePerMinute);
        Assert.Equal(60m, Prices.CapacityCost(300));
    }

    [Theory]
    [InlineData(-0.01, 200, 1000, "seatPrice")]
    [InlineData(1_000_000_000.01, 200, 1000, "seatPrice")]
    [InlineData(40, 0, 1000, "packPrice")]
    [InlineData(40, 0.00009, 1000, "packPrice")]
    [InlineData(40, 1_000_000_001, 1000, "packPrice")]
    [InlineData(40, 200, 0, "packMinutes")]
    [InlineData(40, 200, 1_000_000_001, "packMinutes")]
    public void Prices_OutsideTheirBounds_AreRefusedNamingThePrice(double seat, double pack, long minutes, string field) =>
        Assert.StartsWith(field + ": ", new SeatPrices((decimal)seat, (decimal)pack, minutes).Validate());

    [Fact]
    public void Prices_AtTheirBounds_NoFigureOverflows()
    {
        var extreme = new SeatPrices(SeatPrices.MaxPrice, SeatPrices.MinPackPrice, SeatPrices.MaxPackMinutes);
        Assert.Null(extreme.Validate());
        Assert.Equal(1e22m, extreme.BreakEvenMinutes);
        var costly = new SeatPrices(0, SeatPrices.MaxPrice, 1);
        var advice = SeatAdvisor.Advise(costly, [new("ann", Allocation.Capacity, long.MaxValue), new("bob", Allocation.Analyzer, 0)]);
        Assert.Equal((decimal)long.MaxValue * SeatPrices.MaxPrice, Assert.Single(advice.ToAnalyzerSeat).MonthlySaving);
    }

    [Fact]
    public void Advise_CapacityUserAboveBreakEven_MovesToSeatWithSaving()
    {
        var advice = SeatAdvisor.Advise(Prices, [new("ann", Allocation.Capacity, 300)]);
        var r = Assert.Single(advice.ToAnalyzerSeat);
        Assert.Equal(new SeatRecommendation("ann", Allocation.Capacity, Allocation.Analyzer, 300, 60m, 40m, 20m), r);
        Assert.Empty(advice.ToCapacity);
        Assert.Equal(20m, advice.TotalMonthlySaving);
    }

    [Fact]
    public void Advise_CapacityUserBelowBreakEven_StaysOnCapacity()
    {
        var advice = SeatAdvisor.Advise(Prices, [new("bob", Allocation.Capacity, 199)]);
        Assert.Empty(advice.ToAnalyzerSeat);
        Assert.Equal(0m, advice.TotalMonthlySaving);
    }

    [Fact]
    public void Advise_AnalyzerUserBelowBreakEven_MovesToCapacityWithSaving()
    {
        // 50 minutes cost 10 on capacity against a 40 seat: saves 30.
        var advice = SeatAdvisor.Advise(Prices, [new("cat", Allocation.Analyzer, 50)]);
        var r = Assert.Single(advice.ToCapacity);
        Assert.Equal(new SeatRecommendation("cat", Allocation.Analyzer, Allocation.Capacity, 50, 10m, 40m, 30m), r);
        Assert.Equal(30m, advice.TotalMonthlySaving);
    }

    [Fact]
    public void Advise_AnalyzerUserAboveBreakEven_KeepsSeat()
    {
        var advice = SeatAdvisor.Advise(Prices, [new("dan", Allocation.Analyzer, 201)]);
        Assert.Empty(advice.ToCapacity);
        Assert.Empty(advice.ToAnalyzerSeat);
    }

    [Fact]
    public void Advise_ExactlyAtBreakEven_ChangesNothing()
    {
        var advice = SeatAdvisor.Advise(Prices, [new("eve", Allocation.Capacity, 200), new("fay", Allocation.Analyzer, 200)]);
        Assert.Empty(advice.ToAnalyzerSeat);
        Assert.Empty(advice.ToCapacity);
    }

    [Fact]
    public void Advise_ProfessionalUser_IsNeverMoved()
    {
        var advice = SeatAdvisor.Advise(Prices, [new("gus", Allocation.Professional, 0), new("hal", Allocation.Professional, 5000)]);
        Assert.Empty(advice.ToAnalyzerSeat);
        Assert.Empty(advice.ToCapacity);
    }

    [Fact]
    public void Advise_Mixed_OrdersBySavingAndTotalsBothSides()
    {
        var advice = SeatAdvisor.Advise(Prices,
        [
            new("a", Allocation.Capacity, 300),   // saves 20
            new("b", Allocation.Capacity, 1200),  // 240 − 40 = 200
            new("c", Allocation.Analyzer, 0),     // 40
            new("d", Allocation.Analyzer, 150),   // 40 − 30 = 10
            new("e", Allocation.Capacity, 300),   // ties with a: by name
        ]);
        Assert.Equal(["b", "a", "e"], advice.ToAnalyzerSeat.Select(r => r.User));
        Assert.Equal(["c", "d"], advice.ToCapacity.Select(r => r.User));
        Assert.Equal(200m + 20m + 20m + 40m + 10m, advice.TotalMonthlySaving);
        Assert.Equal(200m, advice.BreakEvenMinutes);
    }

    [Fact]
    public void Advise_NonRoundPrices_BreakEvenIsExactDecimal()
    {
        // Seat 30, pack 250 for 1,000 minutes: break-even 30 / 250 × 1000 = 120 minutes.
        var prices = new SeatPrices(30m, 250m, 1000);
        var advice = SeatAdvisor.Advise(prices, [new("x", Allocation.Capacity, 121), new("y", Allocation.Analyzer, 119)]);
        Assert.Equal(120m, advice.BreakEvenMinutes);
        Assert.Equal(0.25m, Assert.Single(advice.ToAnalyzerSeat).MonthlySaving);
        Assert.Equal(0.25m, Assert.Single(advice.ToCapacity).MonthlySaving);
    }

    [Theory]
    [InlineData(-1, 200, 1000)]
    [InlineData(40, 0, 1000)]
    [InlineData(40, 200, 0)]
    public void Validate_BadPrices_NamesTheProblem(int seat, int pack, long minutes)
    {
        var prices = new SeatPrices(seat, pack, minutes);
        Assert.NotNull(prices.Validate());
        Assert.Throws<ArgumentException>(() => SeatAdvisor.Advise(prices, []));
    }
}
