using BenchmarkDotNet.Running;

// Edge.Benchmarks: micro-benchmarks of the edge's hot functions through their public API.
//   dotnet run -c Release --project load/Edge.Benchmarks -- --list flat
//   dotnet run -c Release --project load/Edge.Benchmarks -- --filter '*Merkle*' --job short
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Edge.Benchmarks.Auditing.MerkleBenchmarks).Assembly).Run(args);

// A benchmark that failed to build or run has no result; say so in the exit code instead of printing "NA" and 0.
return summaries.Any(static s => s.HasCriticalValidationErrors || s.Reports.Any(static r => !r.Success)) ? 1 : 0;
