using System.Globalization;
using System.Net;
using System.Text;

namespace Edge.Load.Reporting;

/// <summary>A hand-drawn line chart in inline SVG: axes, ticks, grid, one polyline per series and a legend. Nothing is fetched.</summary>
internal static class SvgChart
{
    private const int Width = 720;
    private const int Height = 260;
    private const int Left = 60;
    private const int Right = 20;
    private const int Top = 30;
    private const int Bottom = 40;
    private const double XTolerance = 0.02;

    public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points);

    public static string Render(string id, string title, string xLabel, string yLabel, IReadOnlyList<Series> series)
    {
        var all = series.SelectMany(static s => s.Points).ToList();
        // A run's last sample is taken a few milliseconds after its nominal end (10.004 s of a 10 s run): read exactly,
        // that doubled the time axis to 20 s and left half the chart empty. Up to 2% past a round end stays on it.
        var maxX = NiceCeiling(all.Count == 0 ? 1 : all.Max(static p => p.X), XTolerance);
        var maxY = NiceCeiling(all.Count == 0 ? 1 : all.Max(static p => p.Y));
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double Px(double x) => Left + (Math.Min(x, maxX) / maxX * plotWidth);
        double Py(double y) => Top + plotHeight - (y / maxY * plotHeight);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{Encode(title)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"18\" class=\"title\">{Encode(title)}</text>");
        for (var i = 0; i <= 4; i++)
        {
            var y = maxY * i / 4;
            var py = Py(y);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{py:0.#}\" x2=\"{Width - Right}\" y2=\"{py:0.#}\" class=\"grid\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{py + 4:0.#}\" text-anchor=\"end\" class=\"tick\">{Tick(y)}</text>");
            var x = maxX * i / 4;
            var px = Px(x);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{px:0.#}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\" class=\"tick\">{Tick(x)}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top + plotHeight}\" x2=\"{Width - Right}\" y2=\"{Top + plotHeight}\" class=\"axis\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotHeight}\" class=\"axis\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 6}\" text-anchor=\"middle\" class=\"label\">{Encode(xLabel)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{Top + (plotHeight / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {Top + (plotHeight / 2)})\" class=\"label\">{Encode(yLabel)}</text>");

        var legendX = Width - Right - (series.Count * 110);
        foreach (var (s, index) in series.Select(static (s, i) => (s, i)))
        {
            if (s.Points.Count == 1)
            {
                // A polyline of one point has no length and draws nothing: a run shorter than the sample interval has
                // one point per series, and its charts were empty.
                var (x, y) = s.Points[0];
                svg.Append(CultureInfo.InvariantCulture, $"<circle class=\"series\" data-series=\"{Encode(s.Name)}\" fill=\"{s.Color}\" cx=\"{Px(x):0.#}\" cy=\"{Py(y):0.#}\" r=\"3\"/>");
            }
            else if (s.Points.Count > 1)
            {
                var points = string.Join(' ', s.Points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Px(p.X):0.#},{Py(p.Y):0.#}")));
                svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"series\" data-series=\"{Encode(s.Name)}\" fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\" points=\"{points}\"/>");
            }

            var lx = legendX + (index * 110);
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{lx}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{s.Color}\"/><text x=\"{lx + 16}\" y=\"18\" class=\"tick\">{Encode(s.Name)}</text>");
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    internal static double NiceCeiling(double value, double tolerance = 0)
    {
        if (value <= 0)
        {
            return 1;
        }

        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value / (1 + tolerance))));
        foreach (var step in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (step * magnitude * (1 + tolerance) >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    // Ticks are quarters of a nice ceiling (1, 2, 2.5 or 5 times a power of ten), so four significant digits print each
    // exactly: "0.##" labelled 0.025 as 0.03 and 1.875 as 1.88. From 1000 on, whole numbers (G4 would turn 18750 into 1.875E+04).
    private static string Tick(double value) => value.ToString(value >= 1000 ? "0" : "G4", CultureInfo.InvariantCulture);

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
