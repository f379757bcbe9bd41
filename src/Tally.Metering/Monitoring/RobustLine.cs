namespace Tally.Metering;

/// <summary>
/// A robust least-squares fit of <c>z = a + b·t + c·step</c> (the trend and the step are optional), with the
/// parameters' covariance. Robust because one unusual week (a training, a quarter close) must not bend the level:
/// iteratively reweighted least squares, first with Huber weights from an ordinary fit, then with Tukey's bisquare,
/// which gives a point further than 4.685 robust standard deviations from the line no weight at all.
/// Immutable; <see cref="Fit"/> is pure.
/// </summary>
internal sealed class RobustLine
{
    private const double HuberK = 1.345;
    private const double BisquareC = 4.685;
    // The residual scale never drops below this (in log units, 1 %): a perfectly regular history would otherwise
    // claim a certainty no month has, and weigh any later wobble as an outlier.
    public const double MinimumScale = 0.01;

    private RobustLine(double[] coefficients, double[,] covariance, double scale, bool hasTrend, int? stepFrom, double[] weights, double[] residuals)
    {
        Residuals = residuals;
        Coefficients = coefficients;
        Covariance = covariance;
        Scale = scale;
        HasTrend = hasTrend;
        StepFrom = stepFrom;
        Weights = weights;
    }

    /// <summary>a, then b when <see cref="HasTrend"/>, then c when there is a step.</summary>
    public double[] Coefficients { get; }

    /// <summary>The coefficients' covariance: scale² × (XᵀWX)⁻¹.</summary>
    public double[,] Covariance { get; }

    /// <summary>The robust residual standard deviation: 1.4826 × the median absolute residual (at least 1 %).</summary>
    public double Scale { get; }

    public bool HasTrend { get; }

    /// <summary>The index of the first point the step applies to, or null for no step.</summary>
    public int? StepFrom { get; }

    /// <summary>Each point's residual from the fitted line.</summary>
    public double[] Residuals { get; }

    /// <summary>
    /// Twice the sum of Tukey's bisquare loss of the residuals in units of <paramref name="scale"/>: like the squared
    /// residuals for points near the line, and a fixed charge for an outlier, so a fit that leaves many points out
    /// scores worse than one that explains them. With a common scale it compares fits as −2 log-likelihood would.
    /// </summary>
    public double Loss(double scale)
    {
        const double c2 = BisquareC * BisquareC;
        var total = 0.0;
        foreach (var r in Residuals)
        {
            var u2 = (r / scale) * (r / scale);
            total += u2 >= c2 ? c2 / 6 : c2 / 6 * (1 - Math.Pow(1 - (u2 / c2), 3));
        }
        return 2 * total;
    }

    /// <summary>Each point's final weight, 0 for a point taken as an outlier.</summary>
    public double[] Weights { get; }

    public int ParameterCount => Coefficients.Length;

    public double Intercept => Coefficients[0];

    public double Slope => HasTrend ? Coefficients[1] : 0;

    public double Step => StepFrom is null ? 0 : Coefficients[^1];

    /// <summary>The fitted value at <paramref name="t"/>, with the step applied or not.</summary>
    public double At(double t, bool stepped) => Intercept + (Slope * t) + (stepped ? Step : 0);

    /// <summary>The variance of the fitted value at <paramref name="t"/> (xᵀ Cov x).</summary>
    public double VarianceAt(double t, bool stepped)
    {
        var x = Row(t, stepped && StepFrom is not null, HasTrend, StepFrom is not null);
        var v = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = 0; j < x.Length; j++)
            {
                v += x[i] * Covariance[i, j] * x[j];
            }
        }
        return Math.Max(0, v);
    }

    /// <summary>
    /// Fits the points (<paramref name="t"/> ascending). Returns null when there are fewer points than parameters plus
    /// two, or the design is singular (every t alike with a trend asked for).
    /// </summary>
    public static RobustLine? Fit(IReadOnlyList<double> t, IReadOnlyList<double> z, bool trend, int? stepFrom)
    {
        var n = t.Count;
        var p = 1 + (trend ? 1 : 0) + (stepFrom is null ? 0 : 1);
        if (n < p + 2)
        {
            return null;
        }
        var rows = new double[n][];
        for (var i = 0; i < n; i++)
        {
            rows[i] = Row(t[i], stepFrom is { } s && i >= s, trend, stepFrom is not null);
        }
        var weights = Enumerable.Repeat(1.0, n).ToArray();
        double[]? beta = null;
        var scale = MinimumScale;
        for (var iteration = 0; iteration < 30; iteration++)
        {
            var solved = WeightedLeastSquares(rows, z, weights);
            if (solved is null)
            {
                return null;
            }
            var converged = beta is not null && beta.Zip(solved).All(pair => Math.Abs(pair.First - pair.Second) < 1e-9);
            beta = solved;
            var residuals = ResidualsOf(rows, z, beta);
            scale = Math.Max(MinimumScale, 1.4826 * Median(residuals.Select(Math.Abs)));
            var bisquare = iteration >= 5;
            for (var i = 0; i < n; i++)
            {
                var u = residuals[i] / scale;
                weights[i] = bisquare
                    ? (Math.Abs(u) < BisquareC ? Math.Pow(1 - ((u / BisquareC) * (u / BisquareC)), 2) : 0)
                    : (Math.Abs(u) <= HuberK ? 1 : HuberK / Math.Abs(u));
            }
            if (converged && bisquare)
            {
                break;
            }
        }
        var covariance = Inverse(Normal(rows, weights));
        if (covariance is null || beta is null)
        {
            return null;
        }
        for (var i = 0; i < p; i++)
        {
            for (var j = 0; j < p; j++)
            {
                covariance[i, j] *= scale * scale;
            }
        }
        return new RobustLine(beta, covariance, scale, trend, stepFrom, weights, ResidualsOf(rows, z, beta));
    }

    private static double[] Row(double t, bool stepped, bool trend, bool hasStep)
    {
        var row = new double[1 + (trend ? 1 : 0) + (hasStep ? 1 : 0)];
        row[0] = 1;
        if (trend)
        {
            row[1] = t;
        }
        if (hasStep)
        {
            row[^1] = stepped ? 1 : 0;
        }
        return row;
    }

    private static double[] ResidualsOf(double[][] rows, IReadOnlyList<double> z, double[] beta)
    {
        var r = new double[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            var fitted = 0.0;
            for (var j = 0; j < beta.Length; j++)
            {
                fitted += rows[i][j] * beta[j];
            }
            r[i] = z[i] - fitted;
        }
        return r;
    }

    private static double[,] Normal(double[][] rows, double[] weights)
    {
        var p = rows[0].Length;
        var m = new double[p, p];
        for (var i = 0; i < rows.Length; i++)
        {
            for (var a = 0; a < p; a++)
            {
                for (var b = 0; b < p; b++)
                {
                    m[a, b] += weights[i] * rows[i][a] * rows[i][b];
                }
            }
        }
        return m;
    }

    private static double[]? WeightedLeastSquares(double[][] rows, IReadOnlyList<double> z, double[] weights)
    {
        var inverse = Inverse(Normal(rows, weights));
        if (inverse is null)
        {
            return null;
        }
        var p = rows[0].Length;
        var xtz = new double[p];
        for (var i = 0; i < rows.Length; i++)
        {
            for (var a = 0; a < p; a++)
            {
                xtz[a] += weights[i] * rows[i][a] * z[i];
            }
        }
        var beta = new double[p];
        for (var a = 0; a < p; a++)
        {
            for (var b = 0; b < p; b++)
            {
                beta[a] += inverse[a, b] * xtz[b];
            }
        }
        return beta;
    }

    // Gauss–Jordan with partial pivoting; the matrices here are at most 3×3.
    private static double[,]? Inverse(double[,] m)
    {
        var p = m.GetLength(0);
        var a = (double[,])m.Clone();
        var inv = new double[p, p];
        for (var i = 0; i < p; i++)
        {
            inv[i, i] = 1;
        }
        for (var col = 0; col < p; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < p; r++)
            {
                if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = r;
                }
            }
            if (Math.Abs(a[pivot, col]) < 1e-12)
            {
                return null;
            }
            for (var k = 0; k < p; k++)
            {
                (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
                (inv[col, k], inv[pivot, k]) = (inv[pivot, k], inv[col, k]);
            }
            var d = a[col, col];
            for (var k = 0; k < p; k++)
            {
                a[col, k] /= d;
                inv[col, k] /= d;
            }
            for (var r = 0; r < p; r++)
            {
                if (r == col)
                {
                    continue;
                }
                var f = a[r, col];
                for (var k = 0; k < p; k++)
                {
                    a[r, k] -= f * a[col, k];
                    inv[r, k] -= f * inv[col, k];
                }
            }
        }
        return inv;
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
