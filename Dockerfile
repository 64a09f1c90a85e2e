# appcast-hub: one process serving feeds, webhooks, pixels, Slack and the admin API.
# Install steps match the README's Quick start (pip install of this checkout).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md config.example.toml ./
COPY hub ./hub
COPY plugins ./plugins
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home hub

USER hub
WORKDIR /data
# Mount your config here (or point APPCAST_HUB_CONFIG elsewhere); SQLite files land in /data by default.
ENV APPCAST_HUB_CONFIG=/etc/appcast-hub/config.toml
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["appcast-hub"]
CMD ["serve", "--host", "0.0.0.0"]
