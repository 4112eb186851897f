using Edge.Proxy;

var app = EdgeApplication.Create(args);
await app.RunAsync();
