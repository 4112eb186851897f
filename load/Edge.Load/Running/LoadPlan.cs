using Edge.Load.Simulations;

namespace Edge.Load.Running;

/// <summary>The simulations of one scenario laid out on a timeline of linear segments (rate per second or copies).</summary>
internal sealed class LoadPlan
{
    private LoadPlan(LoadModel model, IReadOnlyList<Segment> segments)
    {
        Model = model;
        Segments = segments;
        Duration = TimeSpan.FromSeconds(segments.Sum(static s => s.Seconds));
    }

    public LoadModel Model { get; }

    public IReadOnlyList<Segment> Segments { get; }

    public TimeSpan Duration { get; }

    /// <summary>Open model: how many invocations the schedule starts (invocation k is due while k is below the rate's integral).</summary>
    public long ScheduledInvocations => (long)Math.Ceiling(Math.Round(Segments.Sum(static s => s.Count), 6));

    public static LoadPlan Create(IReadOnlyList<LoadSimulation> simulations)
    {
        if (simulations.Count == 0)
        {
            throw new ArgumentException("A scenario needs at least one load simulation.");
        }

        var models = simulations.Select(static s => s.Model).Where(static m => m != LoadModel.Either).Distinct().ToList();
        if (models.Count > 1)
        {
            throw new ArgumentException("A scenario cannot mix open-model (inject) and closed-model (constant) simulations; use two scenarios.");
        }

        if (models.Count == 0)
        {
            throw new ArgumentException("A scenario needs at least one simulation that produces load (not only pauses).");
        }

        var segments = new List<Segment>(simulations.Count);
        double start = 0, level = 0;
        foreach (var simulation in simulations)
        {
            var seconds = simulation.During.TotalSeconds;
            var (from, to) = simulation switch
            {
                InjectSimulation s => (s.RatePerSecond, s.RatePerSecond),
                RampingInjectSimulation s => (level, s.RatePerSecond),
                KeepConstantSimulation s => (s.Copies, (double)s.Copies),
                RampingConstantSimulation s => (level, (double)s.Copies),
                PauseSimulation => (0d, 0d),
                _ => throw new ArgumentException($"Unsupported simulation {simulation.GetType().Name}."),
            };
            segments.Add(new Segment(start, seconds, from, to, simulation.Describe()));
            start += seconds;
            level = to;
        }

        return new LoadPlan(models[0], segments);
    }

    /// <summary>Warm-up repeats the level of the first simulation that produces load, for the warm-up duration.</summary>
    public static LoadPlan? WarmUp(IReadOnlyList<LoadSimulation> simulations, TimeSpan warmUp)
    {
        if (warmUp <= TimeSpan.Zero)
        {
            return null;
        }

        LoadSimulation? first = simulations.FirstOrDefault(static s => s is not PauseSimulation);
        LoadSimulation? warm = first switch
        {
            InjectSimulation s => Simulation.Inject(s.Rate, s.Interval, warmUp),
            RampingInjectSimulation s => Simulation.Inject(Math.Max(1, s.Rate), s.Interval, warmUp),
            KeepConstantSimulation s => Simulation.KeepConstant(s.Copies, warmUp),
            RampingConstantSimulation s => Simulation.KeepConstant(Math.Max(1, s.Copies), warmUp),
            _ => null,
        };
        return warm is null ? null : Create([warm]);
    }

    public Segment? SegmentAt(double seconds)
    {
        foreach (var segment in Segments)
        {
            if (seconds < segment.Start + segment.Seconds)
            {
                return segment;
            }
        }

        return null;
    }

    /// <summary>Closed model: how many copies should be running at <paramref name="seconds"/>; null once the plan is over.</summary>
    public int? CopiesAt(double seconds)
    {
        var segment = SegmentAt(seconds);
        if (segment is null)
        {
            return null;
        }

        var progress = (seconds - segment.Start) / segment.Seconds;
        return (int)Math.Round(segment.From + ((segment.To - segment.From) * progress));
    }

    /// <summary>Open model: the intended send times (seconds from start) of invocation 0, 1, 2, ... in order.</summary>
    public OpenSchedule CreateSchedule() => new(Segments);

    internal sealed record Segment(double Start, double Seconds, double From, double To, string Description)
    {
        /// <summary>Invocations in this segment: the integral of a linear rate.</summary>
        public double Count => (From + To) / 2 * Seconds;
    }

    internal sealed class OpenSchedule(IReadOnlyList<Segment> segments)
    {
        private int _segment;
        private double _countBefore;
        private long _next;

        /// <summary>Invocation k is due when the integral of the rate reaches k, so invocation 0 is due at the start.</summary>
        public bool TryNext(out double seconds)
        {
            while (_segment < segments.Count)
            {
                var segment = segments[_segment];
                var x = _next - _countBefore;
                if (x < segment.Count)
                {
                    seconds = segment.Start + OffsetOf(segment, x);
                    _next++;
                    return true;
                }

                _countBefore += segment.Count;
                _segment++;
            }

            seconds = 0;
            return false;
        }

        // Solves From*t + (To-From)/(2*Seconds)*t^2 = x for the first t >= 0, in a form that stays stable when To == From.
        private static double OffsetOf(Segment segment, double x)
        {
            if (x <= 0)
            {
                return 0;
            }

            var a = (segment.To - segment.From) / (2 * segment.Seconds);
            var b = segment.From;
            var root = Math.Sqrt(Math.Max(0, (b * b) + (4 * a * x)));
            var t = 2 * x / (b + root);
            return Math.Min(t, segment.Seconds);
        }
    }
}
