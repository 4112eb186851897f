using Edge.Proxy;
using Edge.Proxy.Configuration;

try
{
    var app = EdgeApplication.Create(args);
    await app.RunAsync();
    return 0;
}
catch (EdgeConfigException invalid)
{
    // Every error was already logged with its location; repeat them plainly for whoever started the process.
    Console.Error.WriteLine(invalid.Message);
    return 1;
}
