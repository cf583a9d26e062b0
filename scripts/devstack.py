"""`make up` / `make down`: run the whole development stack in one terminal and stop it cleanly.

Standard library only. Order: migrations, Temporal dev server, UI proxy, simulators, worker, API; then dev
data. Each child's output goes to var/log/<name>.log; Ctrl-C, SIGTERM or `make down` stop them in reverse order.

The embedded Temporal UI listens on an internal port (the UI origin's port + 1, on 127.0.0.1); the UI
origin itself is scripts/uiproxy.py, which serves the UI and the API's `/codec/*` from that one origin, so
the browser sends the console's staff cookie with the UI's codec calls (the embedded UI sends none
cross-origin).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, however this is loaded

from devdata import Credentials, Seeder, http_status, load_credentials, warn  # noqa: E402
from supervise import (  # noqa: E402
    Child,
    StackError,
    Stop,
    Supervisor,
    log_tail,
    ports_in_use,
    request_stop,
    running_pid,
)

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
LOG_DIR = VAR / "log"
PID_FILE = VAR / "devstack.pid"
CREDENTIALS_FILE = VAR / "dev-credentials.json"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# The same defaults as core/settings.py (tests/test_devstack.py keeps the two in step).
DEFAULTS = {
    "DATABASE_URL": f"sqlite+aiosqlite:///{VAR / 'prakerja.db'}",
    "TEMPORAL_ADDRESS": "127.0.0.1:7233",
    "TEMPORAL_NAMESPACE": "default",
    "PRAKERJA_ADMIN_TOKEN": "dev-admin-token",
    "PRAKERJA_API_URL": "http://127.0.0.1:8000",
    "PRAKERJA_PARTNER_BASE_URL": "http://127.0.0.1:8100",
    "PRAKERJA_UI_ORIGIN": "http://127.0.0.1:8233",
    "PRAKERJA_API_WORKERS": "1",
}
# What `make up` sets although the settings leave it unset (the worker serves no metrics by default).
STACK_DEFAULTS = {"PRAKERJA_WORKER_METRICS_PORT": "9464"}


def host_port(address: str) -> tuple[str, int]:
    """`host:port` or a URL → (host, port)."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Config:
    """What the stack needs from the environment; the children read the same variables themselves."""

    env: dict[str, str]
    python: str

    def get(self, name: str) -> str:
        return self.env.get(name) or DEFAULTS[name]

    def bin(self, name: str) -> str:
        return str(Path(self.python).parent / name)

    @property
    def worker_metrics_url(self) -> str:
        port = self.env.get("PRAKERJA_WORKER_METRICS_PORT") or STACK_DEFAULTS["PRAKERJA_WORKER_METRICS_PORT"]
        return f"http://127.0.0.1:{port}/metrics"

    @property
    def api_workers(self) -> int:
        """API processes (PRAKERJA_API_WORKERS): one by default, as `python -m api`; the dev stack has no Redis,
        so with several each process counts the rate limits on its own."""
        return int(self.get("PRAKERJA_API_WORKERS"))

    @property
    def api_metrics_dir(self) -> Path | None:
        """Where several API processes keep their Prometheus metrics, which `/metrics` sums (under var/)."""
        return VAR / "api-metrics" if self.api_workers > 1 else None

    @property
    def api_url(self) -> str:
        return self.get("PRAKERJA_API_URL").rstrip("/")

    @property
    def sim_url(self) -> str:
        return self.get("PRAKERJA_PARTNER_BASE_URL").rstrip("/")

    @property
    def embedded_temporal(self) -> bool:
        """Start the Temporal dev server only when TEMPORAL_ADDRESS points at this machine."""
        return host_port(self.get("TEMPORAL_ADDRESS"))[0] in LOCAL_HOSTS

    @property
    def ui_origin(self) -> str:
        """Where browsers open the Temporal UI: the UI proxy (embedded Temporal) or the cluster's UI."""
        return self.get("PRAKERJA_UI_ORIGIN").rstrip("/")

    @property
    def ui_internal_url(self) -> str:
        """The embedded UI itself, behind the proxy: loopback only, on the UI origin's port + 1."""
        return f"http://127.0.0.1:{host_port(self.ui_origin)[1] + 1}"

    def ports(self) -> dict[int, str]:
        """Ports this stack will listen on, with what listens there."""
        ports = {host_port(self.api_url)[1]: "API", host_port(self.sim_url)[1]: "simulators"}
        if self.embedded_temporal:
            ports[host_port(self.get("TEMPORAL_ADDRESS"))[1]] = "Temporal gRPC"
            ports[host_port(self.ui_origin)[1]] = "Temporal UI"
            ports[host_port(self.ui_internal_url)[1]] = "Temporal UI, internal"
        return ports


# ---- command lines ------------------------------------------------------------------------------


def temporal_command(cfg: Config, sa_flags: list[str], db_file: Path = VAR / "temporal.db") -> list[str]:
    host, port = host_port(cfg.get("TEMPORAL_ADDRESS"))
    ui_host, ui_port = host_port(cfg.ui_internal_url)
    cmd = [cfg.bin("temporal"), "server", "start-dev", "--db-filename", str(db_file)]
    cmd += ["--ip", host, "--port", str(port), "--ui-ip", ui_host, "--ui-port", str(ui_port)]
    # Same origin as the UI (the proxy forwards it to the API): the browser then sends the staff cookie.
    cmd += ["--ui-codec-endpoint", f"{cfg.ui_origin}/codec", "--ui-disable-news-fetch", "--log-level", "warn"]
    if (namespace := cfg.get("TEMPORAL_NAMESPACE")) != "default":
        cmd += ["--namespace", namespace]
    return cmd + [arg for flag in sa_flags for arg in ("--search-attribute", flag)]


def ui_proxy_command(cfg: Config) -> list[str]:
    """The UI origin: the embedded UI, and `/codec/*` forwarded to the API (scripts/uiproxy.py)."""
    cmd = [cfg.python, "-m", "scripts.uiproxy", "--listen", cfg.ui_origin]
    return cmd + ["--api-url", cfg.api_url, "--ui-url", cfg.ui_internal_url, "--log-level", "warning"]


def search_attribute_command(cfg: Config, sa_flags: list[str]) -> list[str]:
    """Idempotent; needed because a restart on an existing db ignores --search-attribute flags it lacks."""
    cmd = [cfg.bin("temporal"), "operator", "search-attribute", "create"]
    cmd += ["--address", cfg.get("TEMPORAL_ADDRESS"), "--namespace", cfg.get("TEMPORAL_NAMESPACE")]
    for name, kind in (flag.split("=", 1) for flag in sa_flags):
        cmd += ["--name", name, "--type", kind]
    return cmd


def health_command(cfg: Config) -> list[str]:
    return [cfg.bin("temporal"), "operator", "cluster", "health", "--address", cfg.get("TEMPORAL_ADDRESS")]


def app_commands(cfg: Config) -> dict[str, list[str]]:
    sim_host, sim_port = host_port(cfg.sim_url)
    api_host, api_port = host_port(cfg.api_url)
    return {
        "migrate": [cfg.python, "-m", "db.migrate"],
        "simulators": [cfg.python, "-m", "simulators", "--host", sim_host, "--port", str(sim_port)],
        "worker": [cfg.python, "-m", "workers.main"],
        "api": [
            cfg.python,
            "-m",
            "api",
            "--host",
            api_host,
            "--port",
            str(api_port),
            "--workers",
            str(cfg.api_workers),
        ],
    }


def search_attribute_flags(cfg: Config) -> list[str]:
    """Asked from core.temporal (the single source of truth) in the venv's interpreter."""
    code = "from core.temporal import search_attribute_flags as f; print('\\n'.join(f()))"
    out = subprocess.run([cfg.python, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise StackError(f"cannot read search attributes from core.temporal:\n{out.stderr.strip()}")
    return out.stdout.split()


def cli_env(env: dict[str, str]) -> dict[str, str]:
    # The temporal CLI reads TEMPORAL_* (TLS, API key...) too; the embedded server uses none of them.
    return {k: v for k, v in env.items() if not k.startswith("TEMPORAL_")}


def succeeds(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, env=cli_env(dict(os.environ)), capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


# ---- up -----------------------------------------------------------------------------------------


def boot(cfg: Config, sup: Supervisor) -> None:
    env = {**STACK_DEFAULTS, **cfg.env, "PYTHONUNBUFFERED": "1"}
    if cfg.api_metrics_dir is not None:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(cfg.api_metrics_dir))
    commands = app_commands(cfg)
    step("migrating the database", "migrate")
    sup.run_once("migrate", commands["migrate"], env, timeout_s=300)
    if cfg.embedded_temporal:
        start_temporal(cfg, sup, env)
    sims = start(sup, "simulators", commands["simulators"], env)
    sup.wait_for("simulators", lambda: http_status(f"{cfg.sim_url}/") is not None, 60, sims.log)
    start(sup, "worker", commands["worker"], env)
    api = start(sup, "api", commands["api"], env)
    sup.wait_for("API /readyz", lambda: http_status(f"{cfg.api_url}/readyz") == 200, 120, api.log)


def start_temporal(cfg: Config, sup: Supervisor, env: dict[str, str]) -> None:
    flags = search_attribute_flags(cfg)
    temporal = start(sup, "temporal", temporal_command(cfg, flags), cli_env(env))
    sup.wait_for("Temporal gRPC", lambda: succeeds(health_command(cfg)), 60, temporal.log)
    if not succeeds(search_attribute_command(cfg, flags)):
        raise StackError("registering search attributes failed (did a type change? see README)", temporal.log)
    # Started after Temporal, so stopped before it; it answers 502 until the UI itself is up.
    proxy = start(sup, "uiproxy", ui_proxy_command(cfg), env)
    settings = f"{cfg.ui_origin}/api/v1/settings"
    sup.wait_for("Temporal UI (through the proxy)", lambda: http_status(settings) == 200, 60, proxy.log)


def start(sup: Supervisor, name: str, argv: list[str], env: dict[str, str]) -> Child:
    step(f"starting {name}", name)
    return sup.start(name, argv, env)


def step(message: str, log_name: str) -> None:
    print(f"- {message:<30} log: var/log/{log_name}.log", flush=True)


def seed(cfg: Config) -> Credentials:
    print(f"- {'seeding dev data':<30} keys: {CREDENTIALS_FILE.relative_to(ROOT)}", flush=True)
    seeder = Seeder(cfg.api_url, cfg.sim_url, cfg.get("PRAKERJA_ADMIN_TOKEN"), CREDENTIALS_FILE)
    try:
        return seeder.run()
    except OSError as err:
        warn(f"seeding stopped: {err}")
        return load_credentials(CREDENTIALS_FILE)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def banner(cfg: Config, sup: Supervisor, creds: Credentials) -> str:
    token = cfg.get("PRAKERJA_ADMIN_TOKEN")
    shown = token if token == DEFAULTS["PRAKERJA_ADMIN_TOKEN"] else "(the value of PRAKERJA_ADMIN_TOKEN)"
    if cfg.embedded_temporal:  # the codec is on the UI's origin: signing in to the console is all it takes
        ui = f"{cfg.ui_origin}   (decrypted after signing in at {cfg.api_url}/console)"
    else:
        ui = f"(your cluster's UI)   (codec endpoint {cfg.api_url}/codec)"
    rows = [
        ("API", f"{cfg.api_url}   (docs {cfg.api_url}/docs; {processes(cfg.api_workers)}, PRAKERJA_API_WORKERS)"),
        ("Console", f"{cfg.api_url}/console   (sign in with a staff token, e.g. the admin token below)"),
        ("Temporal UI", ui),
        ("Metrics", f"{cfg.api_url}/metrics   worker {cfg.worker_metrics_url}"),
        ("Transparency", f"{cfg.api_url}/transparency   (public figures, no sign-in)"),
        ("Simulators", cfg.sim_url),
        ("Temporal gRPC", f"{cfg.get('TEMPORAL_ADDRESS')}   namespace {cfg.get('TEMPORAL_NAMESPACE')}"),
        ("Database", redact(cfg.get("DATABASE_URL"))),
        ("Admin token", f"{shown}   (Authorization: Bearer <token>)"),
        *(("Partner", f"{code:<13} {e['kind']:<18} sign key {e['sign_key']}") for code, e in creds.items()),
        ("Credentials", str(CREDENTIALS_FILE.relative_to(ROOT))),
        ("Logs", f"var/log/{{{','.join(child.name for child in sup.children)}}}.log"),
    ]
    body = [f"  {label:<15} {value}" for label, value in rows]
    stop = "Stop with Ctrl-C here, or `make down` from another terminal."
    return "\n".join(["=" * 78, "Prakerja dev stack is up", *body, stop, "=" * 78])


def processes(count: int) -> str:
    return f"{count} process{'es' if count > 1 else ''}"


def _raise_stop(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def refuse_to_start(cfg: Config) -> str | None:
    if (pid := running_pid(PID_FILE)) is not None:
        return f"a dev stack is already running (pid {pid}); stop it with `make down`."
    if taken := ports_in_use(cfg.ports()):
        return f"{', '.join(taken)} already in use (another `make up`? try `make down`)."
    return None


def up(cfg: Config) -> int:
    if reason := refuse_to_start(cfg):
        print(f"Refusing to start: {reason}")
        return 1
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    PID_FILE.write_text(str(os.getpid()))
    sup = Supervisor(LOG_DIR, cwd=ROOT)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)
    try:
        boot(cfg, sup)
        print(banner(cfg, sup, seed(cfg)), flush=True)
        while True:
            sup.check()
            time.sleep(0.5)
    except Stop as stop:
        print(f"\n{stop}: stopping the dev stack", flush=True)
        return 0
    except StackError as err:
        print(f"\nERROR: {err}")
        if err.log:
            print(f"---- last lines of {err.log.relative_to(ROOT)} ----\n{log_tail(err.log)}\n----")
        return 1
    finally:
        for sig in STOP_SIGNALS:  # from here on, another Ctrl-C only skips the grace period
            signal.signal(sig, lambda *_: setattr(sup, "hurry", True))
        sup.stop_all()
        PID_FILE.unlink(missing_ok=True)
        print("Dev stack stopped.", flush=True)


def down() -> int:
    stopped = request_stop(PID_FILE, timeout_s=60)
    print({None: "No dev stack is running.", True: "Dev stack stopped."}.get(stopped, "Still stopping."))
    return 0 if stopped is not False else 1


def status() -> int:
    pid = running_pid(PID_FILE)
    print("not running" if pid is None else f"running (pid {pid})")
    return 3 if pid is None else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status"], nargs="?", default="up")
    command = parser.parse_args(argv).command
    if command != "up":
        return down() if command == "down" else status()
    venv_python = ROOT / ".venv" / "bin" / "python"  # children need the project's interpreter
    return up(Config(dict(os.environ), str(venv_python) if venv_python.exists() else sys.executable))


if __name__ == "__main__":
    sys.exit(main())
