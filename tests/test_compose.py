"""docker-compose.yml and the Dockerfile describe a stack that can actually start (no Docker needed here).

Nothing here pulls an image: tags are checked against a list of tags known to be published.
"""

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError

from core.settings import DEV_ADMIN_TOKEN, DEV_CODEC_KEYS, DEV_SECRET_KEY, Settings, load_settings
from core.temporal import search_attribute_flags

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
APP_SERVICES = {name for name, service in SERVICES.items() if "build" in service}
REQUIRED = {
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "PRAKERJA_ENV",
    "PRAKERJA_ADMIN_TOKEN",
    "PRAKERJA_CODEC_KEYS",
    "PRAKERJA_SECRET_KEY",
    "PRAKERJA_ADAPTERS",
}
SECRETS = {"PRAKERJA_ADMIN_TOKEN", "PRAKERJA_CODEC_KEYS", "PRAKERJA_SECRET_KEY"}
# Variables an app service may set that core.settings does not read (documented here, with the reason).
NON_APP_VARS: dict[str, str] = {}
# Tags these images are published under (checked by hand; bump both together when upgrading).
KNOWN_TAGS = {
    "postgres": {"16"},
    "temporalio/auto-setup": {"1.29.1"},
    "temporalio/admin-tools": {"1.29.1-tctl-1.18.4-cli-1.5.0"},
    "temporalio/ui": {"2.44.0"},
    "redis": {"7.4"},
    "jaegertracing/all-in-one": {"1.62.0"},
    "prom/prometheus": {"v2.55.1"},
    "grafana/grafana": {"11.3.0"},
}


def setting_aliases() -> set[str]:
    return {
        alias
        for field in Settings.model_fields.values()
        for alias in field.validation_alias.choices  # type: ignore[union-attr]
    }


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published_ports(service: str) -> dict[int, int]:
    """host port -> container port."""
    ports = {}
    for mapping in SERVICES[service].get("ports", []):
        *_, host, container = str(mapping).split(":")
        ports[int(host)] = int(container)
    return ports


def command(service: str) -> list[str]:
    cmd = SERVICES[service]["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(arg) for arg in cmd]


def module_file(module: str) -> Path:
    """The file `python -m module` runs."""
    path = ROOT / module.replace(".", "/")
    return path / "__main__.py" if path.is_dir() else path.with_suffix(".py")


def test_the_whole_stack_is_described() -> None:
    infrastructure = {"postgresql", "temporal", "temporal-setup", "temporal-ui", "redis"}
    assert infrastructure | {"migrate", "api", "worker", "simulators"} <= set(SERVICES)
    assert APP_SERVICES == {"migrate", "api", "worker", "simulators"}


def test_app_services_set_only_real_settings() -> None:
    known = setting_aliases() | set(NON_APP_VARS)
    for service in APP_SERVICES:
        unknown = set(environment(service)) - known
        assert not unknown, f"{service} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("service", ["api", "worker", "migrate"])
def test_api_and_worker_get_every_required_setting(service: str) -> None:
    env = environment(service)
    assert REQUIRED <= set(env), sorted(REQUIRED - set(env))
    assert env["PRAKERJA_ENV"] == "production" and env["PRAKERJA_ADAPTERS"] == "http"
    assert re.fullmatch(r"postgresql\+asyncpg://\w+:.+@postgresql:5432/\w+", env["DATABASE_URL"])
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["PRAKERJA_PARTNER_BASE_URL"] == "http://simulators:8100"


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secrets_come_from_the_environment_and_are_required(name: str) -> None:
    for service in ("api", "worker"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment(service)[name]), (service, name)
    assert "${POSTGRES_PASSWORD:?" in environment("api")["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in environment("postgresql")["POSTGRES_PASSWORD"]


def test_images_are_pinned_to_published_tags() -> None:
    for name, service in SERVICES.items():
        if name in APP_SERVICES:
            assert service["image"].split(":")[-1] not in ("", "latest"), name
            continue
        repository, _, tag = service["image"].rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {service['image']} is not pinned"
        assert tag in KNOWN_TAGS[repository], f"{name}: {service['image']} is not a tag known to exist"


def test_temporal_runs_on_postgresql() -> None:
    env = environment("temporal")
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    assert SERVICES["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"


def test_the_ui_decrypts_through_the_api_codec_endpoint_with_credentials() -> None:
    ui = environment("temporal-ui")
    codec = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    assert codec.path == "/codec"
    # The operator's browser calls it: the api's published port (or its name, on a shared network).
    assert codec.hostname == "api" or published_ports("api").get(codec.port or 80) == 8000
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    # ...and the API lets exactly the UI's origin call it with credentials (CORS).
    ui_origin = urlsplit(environment("api")["PRAKERJA_UI_ORIGIN"])
    assert published_ports("temporal-ui").get(ui_origin.port or 80) == 8080


def test_search_attributes_are_registered_as_the_code_declares_them() -> None:
    args = command("temporal-setup")
    names = [arg.removeprefix("--name=") for arg in args if arg.startswith("--name=")]
    types = [arg.removeprefix("--type=") for arg in args if arg.startswith("--type=")]
    assert SERVICES["temporal-setup"]["entrypoint"] == ["temporal"]
    assert args[:3] == ["operator", "search-attribute", "create"]
    assert [f"{name}={kind}" for name, kind in zip(names, types, strict=True)] == search_attribute_flags()
    assert f"--namespace={environment('api')['TEMPORAL_NAMESPACE']}" in args


def test_the_api_counts_rate_limits_in_the_stack_redis() -> None:
    """Several api replicas must share one budget: the counters live in the redis service, not in memory."""
    assert urlsplit(environment("api")["PRAKERJA_REDIS_URL"]).netloc == "redis:6379"
    assert SERVICES["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["redis"] and not SERVICES["redis"].get("ports")  # internal only


def test_startup_order() -> None:
    def after(service: str) -> dict[str, str]:
        return {dep: cond["condition"] for dep, cond in SERVICES[service]["depends_on"].items()}

    assert after("migrate") == {"postgresql": "service_healthy"}
    for service in ("api", "worker"):
        assert after(service)["migrate"] == "service_completed_successfully"
        assert after(service)["temporal-setup"] == "service_completed_successfully"
    assert after("worker")["simulators"] == "service_healthy"
    for service in ("postgresql", "temporal", "api", "simulators"):
        assert "healthcheck" in SERVICES[service], service


@pytest.mark.parametrize("service", ["migrate", "api", "worker", "simulators"])
def test_service_commands_run_modules_that_exist(service: str) -> None:
    cmd = command(service)
    assert cmd[:2] == ["python", "-m"]
    assert module_file(cmd[2]).is_file(), f"{service} runs `python -m {cmd[2]}`, which does not exist"


def test_dockerfile_builds_the_project_and_serves_the_api() -> None:
    assert all(SERVICES[name]["build"] == "." for name in APP_SERVICES)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "pip install -c constraints.txt ." in dockerfile
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd, "the Dockerfile needs an exec-form CMD"
    args = yaml.safe_load(cmd.group(1))
    assert args[:3] == ["python", "-m", "api"] and module_file(args[2]).is_file()
    # db/migrate.py finds these beside the source, which the image keeps in its working directory.
    assert (ROOT / "alembic.ini").is_file() and (ROOT / "migrations" / "env.py").is_file()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"alembic.ini", "migrations", "core", "db", "api"}.isdisjoint(ignored)
    assert {".venv", "var", ".env"} <= set(ignored)


# ---- PRAKERJA_ENV=production refuses the development secrets ------------------------------------------

STRONG = {
    "PRAKERJA_ADMIN_TOKEN": "an-operator-chosen-admin-token",
    "PRAKERJA_CODEC_KEYS": "prod-1:cHJvZHVjdGlvbi1jb2RlYy1rZXktMzItYnl0ZXMhIQ==",
    "PRAKERJA_SECRET_KEY": "a-production-secret-key-of-at-least-32-chars",
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PRAKERJA_ENV", "production")
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_starts_with_its_own_secrets(production: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.env == "production" and settings.admin_token == STRONG["PRAKERJA_ADMIN_TOKEN"]


@pytest.mark.parametrize(
    ("name", "dev"),
    [
        ("PRAKERJA_ADMIN_TOKEN", DEV_ADMIN_TOKEN),
        ("PRAKERJA_CODEC_KEYS", DEV_CODEC_KEYS),
        ("PRAKERJA_CODEC_KEYS", f"{STRONG['PRAKERJA_CODEC_KEYS']},{DEV_CODEC_KEYS}"),  # a dev key kept
        ("PRAKERJA_SECRET_KEY", DEV_SECRET_KEY),
    ],
)
def test_production_refuses_a_development_secret(production: pytest.MonkeyPatch, name: str, dev: str) -> None:
    production.setenv(name, dev)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_production_refuses_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAKERJA_ENV", "production")
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match=", ".join(sorted(SECRETS))):
        Settings()


def test_an_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAKERJA_PROFILE", "prakerja-1999")
    with pytest.raises(ValidationError, match="unknown programme profile"):
        Settings()


def test_invalid_settings_stop_the_process_without_echoing_secrets(production: pytest.MonkeyPatch) -> None:
    production.setenv("PRAKERJA_SECRET_KEY", "too-short-secret-Zq81")
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert "PRAKERJA_SECRET_KEY" in str(stopped.value) and "Zq81" not in str(stopped.value)


# ---- observability: Prometheus scrapes api and worker, Grafana has the dashboard, Jaeger the traces -----------


def mounted(service: str) -> dict[str, Path]:
    """container path -> the repository file mounted there (bind mounts of files beside docker-compose.yml)."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def test_prometheus_scrapes_the_api_and_the_worker_where_they_serve_metrics() -> None:
    config_path = mounted("prometheus")["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_path.read_text())
    targets = {
        job["job_name"]: (job.get("metrics_path", "/metrics"), target)
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    worker_port = environment("worker")["PRAKERJA_WORKER_METRICS_PORT"]
    assert targets["prakerja-api"] == ("/metrics", "api:8000")
    assert targets["prakerja-worker"] == ("/metrics", f"worker:{worker_port}")
    assert published_ports("worker")[int(worker_port)] == int(worker_port)  # curl :9464/metrics, as under make up
    assert "--config.file=/etc/prometheus/prometheus.yml" in command("prometheus")


def test_grafana_provisions_the_prometheus_source_and_the_programme_dashboard() -> None:
    mounts = mounted("grafana")
    datasources = yaml.safe_load(mounts["/etc/grafana/provisioning/datasources/prakerja.yml"].read_text())
    [source] = datasources["datasources"]
    assert (source["type"], source["url"], source["uid"]) == ("prometheus", "http://prometheus:9090", "prometheus")
    providers = yaml.safe_load(mounts["/etc/grafana/provisioning/dashboards/prakerja.yml"].read_text())
    folder = providers["providers"][0]["options"]["path"]
    dashboards = [target for target in mounts if target.startswith(folder + "/")]
    assert dashboards, "no dashboard file is mounted where the provider looks"
    dashboard = json.loads(mounts[dashboards[0]].read_text())
    queries = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for series in (
        "prakerja_payments_total",
        "prakerja_paid_rupiah_total",
        "prakerja_journeys",
        "prakerja_partner_request_duration_seconds_bucket",
        "http_request_duration_seconds_bucket",
    ):
        assert series in queries, series
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"prometheus"}
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", environment("grafana")["GF_SECURITY_ADMIN_PASSWORD"])


def test_api_and_worker_send_traces_to_jaeger_over_otlp_http() -> None:
    for service in ("api", "worker"):
        endpoint = urlsplit(environment(service)["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", "jaeger", 4318), service
    assert environment("jaeger")["COLLECTOR_OTLP_ENABLED"] == "true"
    assert published_ports("jaeger")[16686] == 16686
