# The ungechat service (bot + youth intake), as deploy/compose and deploy/kubernetes run
# it: `ungechat run -c /config/ungechat.yaml` as an unprivileged user, with a health
# check on /healthz. The install is the README's (`python3 -m venv` and `pip install`
# of this checkout), without the `synapse` extra: Synapse runs in its own container.
#   docker build -t ungechat:local .
# (tests/test_deploy_files.py builds the same wheel from the same files; the image
# itself cannot be built where the tests run: no image registry there.)

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bots bots
COPY provisioning provisioning
COPY schemas schemas
COPY deploy deploy
RUN python3 -m venv /opt/ungechat \
    && /opt/ungechat/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/ungechat/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# uid 10001: nobody else's on the host; compose runs it in Synapse's group (991), so
# the registration it writes (mode 0640) is readable by Synapse and nobody else.
RUN groupadd --system --gid 10001 ungechat \
    && useradd --system --uid 10001 --gid ungechat --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin ungechat \
    && install -d -o ungechat -g ungechat -m 0750 /config
COPY --from=build /opt/ungechat /opt/ungechat
ENV PATH=/opt/ungechat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /config
# The config's `listen` must be host 0.0.0.0, port 8080 (docs/deploy.md).
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["ungechat"]
# JSON log lines, without personal data (bots/logs.py). Other commands replace this:
#   docker compose run --rm ungechat provision plan -c /config/ungechat.yaml
CMD ["--log-json", "run", "-c", "/config/ungechat.yaml"]
