# Tally in a container: docker build -t tally . && docker run -p 8080:8080 -v tally-data:/data tally
# Two stages: the SDK image builds, the smaller ASP.NET runtime image runs. (The SDK's own container publishing
# cannot declare a VOLUME or a HEALTHCHECK, so a Dockerfile it is.) docs/install.md, "Container".
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Tally.Cli -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# The ledger lives in /data, owned by the image's non-root user 'app' ($APP_UID, 1654), so a new volume is too.
RUN mkdir /data && chown "$APP_UID" /data
VOLUME /data
USER $APP_UID
EXPOSE 8080
# The image has no curl or wget: tally asks itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dotnet", "/app/tally.dll", "health", "--url", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["dotnet", "/app/tally.dll", "serve", "--data", "/data", "--urls", "http://0.0.0.0:8080"]
