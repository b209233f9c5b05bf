# Regulars: the wheel, built and installed by scripts/install-wheel.sh (the step CI's wheel smoke
# runs, so CI exercises this install), in two stages, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
# Everything .dockerignore lets through; the wheel takes what pyproject.toml declares (the code,
# the policy presets, the catalogues, the web chat, the migrations) and the venv gets only that.
COPY . .
RUN scripts/install-wheel.sh /src /opt/venv

FROM python:3.11-slim AS runtime
# Fonts for the images the bot draws: DejaVu for Latin text on the printed table cards, and
# WenQuanYi Micro Hei (5 MB) so Chinese store names, tier names and chart labels are drawn as
# characters, not boxes (charts fall back to keys, and cards to DejaVu, without them).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 regulars
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    HTTP_PORT=8080 \
    SANDBOX_HOST=0.0.0.0 \
    SANDBOX_PUBLIC=false \
    SANDBOX_PORT=8080
RUN mkdir -p /data && chown regulars:regulars /data
WORKDIR /data
VOLUME ["/data"]
USER regulars
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
# Migrations run on start: `regulars db upgrade` first (explicit, logged), then the app (which
# checks again and finds nothing to do).
CMD ["sh", "-c", "regulars db upgrade && exec regulars run"]
