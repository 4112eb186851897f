using Edge.Load.Running;
using Edge.Load.Simulations;

namespace Edge.Load.Tests.Running;

public sealed class LoadPlanTests
{
    [Fact]
    public void CreateSchedule_ConstantInject_SpacesInvocationsEvenlyFromZero()
    {
        var plan = LoadPlan.Create([Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2))]);

        var times = Drain(plan);

        Assert.Equal(200, times.Count);
        Assert.Equal(0, times[0], 9);
        Assert.Equal(0.01, times[1], 9);
        Assert.Equal(1.99, times[^1], 9);
    }

    [Theory]
    [InlineData(100, 1, 2, 0, 400)]
    [InlineData(3, 2, 1, 0, 3)] // 1.5 + 1.5 invocations due: 0, 1 and 2
    [InlineData(7, 1, 3, 1, 42)] // a pause first adds none
    public void ScheduledInvocations_AnyPlan_EqualsWhatTheScheduleStarts(int rate, int intervalSeconds, int seconds, int pauseSeconds, long expected)
    {
        List<LoadSimulation> simulations = pauseSeconds > 0 ? [Simulation.Pause(TimeSpan.FromSeconds(pauseSeconds))] : [];
        simulations.Add(Simulation.Inject(rate, TimeSpan.FromSeconds(intervalSeconds), TimeSpan.FromSeconds(seconds)));
        simulations.Add(Simulation.RampingInject(rate, TimeSpan.FromSeconds(intervalSeconds), TimeSpan.FromSeconds(seconds)));
        var plan = LoadPlan.Create(simulations);

        Assert.Equal(Drain(plan).Count, plan.ScheduledInvocations);
        Assert.Equal(expected, plan.ScheduledInvocations);
    }

    [Fact]
    public void CreateSchedule_RampingInjectThenInject_SendsTheIntegralOfTheRate()
    {
        // Ramp 0 -> 100/s over 2 s is 100 invocations, then 100/s for 1 s is 100 more, then a pause adds none.
        var plan = LoadPlan.Create(
        [
            Simulation.RampingInject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)),
            Simulation.Inject(100, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)),
            Simulation.Pause(TimeSpan.FromSeconds(1)),
        ]);

        var times = Drain(plan);

        Assert.Equal(200, times.Count);
        Assert.True(times.SequenceEqual(times.Order()), "intended times must not go backwards");
        Assert.Equal(Math.Sqrt(50.0 / 25), times[50], 6); // t = sqrt(k / (r / 2D)) in the ramp
        Assert.Equal(TimeSpan.FromSeconds(4), plan.Duration);
    }

    [Fact]
    public void CopiesAt_RampingConstant_InterpolatesAndEnds()
    {
        var plan = LoadPlan.Create([Simulation.RampingConstant(10, TimeSpan.FromSeconds(10)), Simulation.KeepConstant(4, TimeSpan.FromSeconds(1))]);

        Assert.Equal(0, plan.CopiesAt(0));
        Assert.Equal(5, plan.CopiesAt(5));
        Assert.Equal(4, plan.CopiesAt(10.5));
        Assert.Null(plan.CopiesAt(11));
    }

    [Fact]
    public void Create_OpenAndClosedMixed_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => LoadPlan.Create(
            [Simulation.Inject(1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)), Simulation.KeepConstant(1, TimeSpan.FromSeconds(1))]));
        Assert.Contains("cannot mix", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WarmUp_FirstPhaseInject_RepeatsItsRateForTheWarmUp()
    {
        var warm = LoadPlan.WarmUp([Simulation.Pause(TimeSpan.FromSeconds(1)), Simulation.Inject(50, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(9))], TimeSpan.FromSeconds(2));

        Assert.NotNull(warm);
        Assert.Equal(100, Drain(warm).Count);
    }

    [Theory]
    [InlineData("inject:rate=500,interval=1s,during=10s", "inject rate=500/1s during 10s")]
    [InlineData("ramp-inject:rate=1000,during=30s", "ramping inject to rate=1000/1s during 30s")]
    [InlineData("constant:copies=50,during=500ms", "keep constant copies=50 during 500ms")]
    [InlineData("ramp-constant:copies=100,during=1m", "ramping constant to copies=100 during 60s")]
    [InlineData("pause:5s", "pause during 5s")]
    public void Parse_CliForms_DescribeRoundTrips(string text, string description) =>
        Assert.Equal(description, SimulationParser.Parse(text).Describe());

    [Theory]
    [InlineData("inject:rate=0,during=1s")]
    [InlineData("inject:during=1s")]
    [InlineData("burst:rate=1,during=1s")]
    [InlineData("constant:copies=2,during=soon")]
    public void Parse_Invalid_ThrowsFormatException(string text) =>
        Assert.Throws<FormatException>(() => SimulationParser.Parse(text));

    [Theory]
    [InlineData("inject:rate=100000000,during=1s", "100000000 invocations per second")]
    [InlineData("ramp-inject:rate=300000,during=10s", "300000 invocations per second")]
    [InlineData("inject:rate=1000,interval=1ms,during=1s", "1000000 invocations per second")]
    public void Parse_RateAboveWhatOneProcessCanStart_RefusedWithTheRate(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => SimulationParser.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 200000/s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RateAtTheCeiling_Accepted() =>
        Assert.Equal("inject rate=200000/1s during 1s", SimulationParser.Parse("inject:rate=200000,during=1s").Describe());

    [Theory]
    [InlineData("constant:copies=2147483647,during=1s", "2147483647 copies")]
    [InlineData("ramp-constant:copies=100000000,during=1s", "100000000 copies")]
    public void Parse_CopiesAboveWhatOneProcessCanRun_RefusedWithTheCount(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => SimulationParser.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 100000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CopiesAtTheCeiling_Accepted() =>
        Assert.Equal("keep constant copies=100000 during 1s", SimulationParser.Parse("constant:copies=100000,during=1s").Describe());

    [Fact]
    public void Parse_UnknownKind_NamedBeforeMissingKeys()
    {
        var error = Assert.Throws<FormatException>(() => SimulationParser.Parse("bogus:rate=1"));

        Assert.Equal("'bogus:rate=1': unknown simulation 'bogus' (inject, ramp-inject, constant, ramp-constant, pause).", error.Message);
    }

    private static List<double> Drain(LoadPlan plan)
    {
        var schedule = plan.CreateSchedule();
        var times = new List<double>();
        while (schedule.TryNext(out var t))
        {
            times.Add(t);
        }

        return times;
    }
}
