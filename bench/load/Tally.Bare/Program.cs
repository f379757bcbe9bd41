// The HTTP stack's own limit on this machine: Kestrel, minimal API routing, read the body, answer a constant.
// Driven exactly like Tally's /api/v1/access, so Tally's figures can be read as a ratio of this one.
var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
var answer = """{"allowed":true,"decision":"covered","minutes":0}"""u8.ToArray();
app.MapGet("/health/ready", () => "ready");
app.MapPost("/api/v1/access", async (HttpContext http) =>
{
    var buffer = new byte[4096];
    while (await http.Request.Body.ReadAsync(buffer, http.RequestAborted) > 0)
    {
    }
    http.Response.ContentType = "application/json";
    await http.Response.Body.WriteAsync(answer, http.RequestAborted);
});
app.Run();
