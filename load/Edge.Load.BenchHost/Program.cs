using Edge.Load.BenchHost;

const string usage = "usage: edge-bench-host backend [--jwks jwks.json] --urls http://127.0.0.1:PORT | edge-bench-host yarp --config proxy.bare.json --urls http://127.0.0.1:PORT";

if (args.Length == 0)
{
    await Console.Error.WriteLineAsync(usage);
    return 2;
}

var rest = args[1..];
switch (args[0])
{
    case "backend":
        var jwks = Array.IndexOf(rest, "--jwks");
        if (jwks >= 0 && jwks + 1 >= rest.Length)
        {
            await Console.Error.WriteLineAsync(usage);
            return 2;
        }

        await (jwks < 0 ? BenchBackend.Build(rest) : BenchBackend.Build([.. rest[..jwks], .. rest[(jwks + 2)..]], rest[jwks + 1])).RunAsync();
        return 0;
    case "yarp":
        var index = Array.IndexOf(rest, "--config");
        if (index < 0 || index + 1 >= rest.Length)
        {
            await Console.Error.WriteLineAsync(usage);
            return 2;
        }

        var config = rest[index + 1];
        await BareYarp.Build(config, [.. rest[..index], .. rest[(index + 2)..]]).RunAsync();
        return 0;
    default:
        await Console.Error.WriteLineAsync(usage);
        return 2;
}
