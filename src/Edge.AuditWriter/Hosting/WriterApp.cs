using Edge.AuditWriter.Api;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Ingest;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Ui;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Formatting.Compact;

namespace Edge.AuditWriter.Hosting;

/// <summary>Builds the writer host; Program and in-process tests share it.</summary>
public static class WriterApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Host.UseSerilog((context, logging) => logging
            .ReadFrom.Configuration(context.Configuration)
            .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
            .WriteTo.Console(new RenderedCompactJsonFormatter()));
        builder.Services.Configure<WriterOptions>(builder.Configuration.GetSection("Writer"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new AuditLog(
            sp.GetRequiredService<IOptions<WriterOptions>>().Value, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AuditLog>>()));
        builder.Services.AddSingleton<CallerAuthenticator>();
        builder.Services.AddSingleton<IngestAuthenticator>();
        builder.Services.AddHostedService<CheckpointService>();
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.AddRequestContext);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Open the store, check it against its last checkpoint and load keys before listening.
        app.Services.GetRequiredService<AuditLog>();
        app.Services.GetRequiredService<CallerAuthenticator>();
        app.Services.GetRequiredService<IngestAuthenticator>();
        IngestEndpoint.Map(app);
        ReadEndpoints.Map(app);
        ViewerEndpoints.Map(app);
        return app;
    }
}
