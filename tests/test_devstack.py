"""The fast parts of `make up` (scripts/devstack.py): command lines, dev credentials, ports, supervision.

The whole stack is exercised by running `make up` itself; these tests start nothing heavier than `sleep`.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.settings import Settings
from core.temporal import search_attribute_flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import devdata  # noqa: E402
import devstack  # noqa: E402
import supervise  # noqa: E402

PYTHON = "/venv/bin/python"


def options(cmd: list[str]) -> dict[str, list[str]]:
    """`--flag value` pairs of a command line (repeated flags collect every value)."""
    found: dict[str, list[str]] = {}
    for flag, value in zip(cmd, cmd[1:], strict=False):
        if flag.startswith("--") and not value.startswith("--"):
            found.setdefault(flag, []).append(value)
    return found


def test_defaults_are_the_settings_defaults() -> None:
    by_alias = {
        alias: field.default
        for field in Settings.model_fields.values()
        for alias in field.validation_alias.choices  # type: ignore[union-attr]
    }
    for name, default in devstack.DEFAULTS.items():
        assert str(by_alias[name]) == default, name


def test_temporal_dev_server_command() -> None:
    flags = search_attribute_flags()
    cmd = devstack.temporal_command(devstack.Config({}, PYTHON), flags, Path("/data/temporal.db"))
    assert cmd[:3] == ["/venv/bin/temporal", "server", "start-dev"]
    opts = options(cmd)
    assert opts["--db-filename"] == ["/data/temporal.db"]
    assert opts["--ip"] == ["127.0.0.1"] and opts["--port"] == ["7233"]
    # The UI itself sits behind the UI proxy (loopback, UI port + 1); its codec is on the UI's origin.
    assert opts["--ui-ip"] == ["127.0.0.1"] and opts["--ui-port"] == ["8234"]
    assert opts["--ui-codec-endpoint"] == ["http://127.0.0.1:8233/codec"]
    assert opts["--search-attribute"] == flags
    assert {"PrakerjaStatus=Keyword", "PrakerjaOnHold=Bool"} <= set(flags)
    assert "--namespace" not in opts  # "default" always exists


def test_search_attributes_are_registered_on_every_start() -> None:
    cfg = devstack.Config({"TEMPORAL_NAMESPACE": "prakerja"}, PYTHON)
    cmd = devstack.search_attribute_command(cfg, ["PrakerjaStatus=Keyword", "PrakerjaOnHold=Bool"])
    assert cmd[:4] == ["/venv/bin/temporal", "operator", "search-attribute", "create"]
    opts = options(cmd)
    assert opts["--name"] == ["PrakerjaStatus", "PrakerjaOnHold"] and opts["--type"] == ["Keyword", "Bool"]
    assert opts["--address"] == ["127.0.0.1:7233"] and opts["--namespace"] == ["prakerja"]


def test_search_attribute_flags_come_from_core_temporal() -> None:
    cfg = devstack.Config(dict(os.environ), sys.executable)
    assert devstack.search_attribute_flags(cfg) == search_attribute_flags()


def test_app_commands_and_ports_follow_env_overrides() -> None:
    env = {
        "PRAKERJA_API_URL": "http://127.0.0.1:9000",
        "PRAKERJA_PARTNER_BASE_URL": "http://127.0.0.1:9100/",
        "PRAKERJA_UI_ORIGIN": "http://127.0.0.1:9233",
        "TEMPORAL_ADDRESS": "localhost:7300",
        "TEMPORAL_NAMESPACE": "prakerja",
    }
    cfg = devstack.Config(env, PYTHON)
    cmds = devstack.app_commands(cfg)
    assert cmds["api"] == [PYTHON, "-m", "api", "--host", "127.0.0.1", "--port", "9000", "--workers", "1"]
    assert cmds["simulators"] == [PYTHON, "-m", "simulators", "--host", "127.0.0.1", "--port", "9100"]
    assert cmds["worker"] == [PYTHON, "-m", "workers.main"]
    assert cmds["migrate"] == [PYTHON, "-m", "db.migrate"]
    opts = options(devstack.temporal_command(cfg, []))
    assert opts["--port"] == ["7300"] and opts["--ui-port"] == ["9234"]
    assert opts["--namespace"] == ["prakerja"]
    assert opts["--ui-codec-endpoint"] == ["http://127.0.0.1:9233/codec"]
    proxy = devstack.ui_proxy_command(cfg)
    assert proxy[:3] == [PYTHON, "-m", "scripts.uiproxy"]
    assert options(proxy) == {
        "--listen": ["http://127.0.0.1:9233"],
        "--api-url": ["http://127.0.0.1:9000"],
        "--ui-url": ["http://127.0.0.1:9234"],
        "--log-level": ["warning"],
    }
    assert cfg.ports() == {
        9000: "API",
        9100: "simulators",
        7300: "Temporal gRPC",
        9233: "Temporal UI",
        9234: "Temporal UI, internal",
    }


def test_the_ui_proxy_starts_after_temporal_and_so_stops_before_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[tuple[str, list[str]]] = []

    class RecordingSupervisor:
        def start(self, name: str, argv: list[str], env: dict[str, str]) -> supervise.Child:
            started.append((name, argv))
            return supervise.Child(name, None, tmp_path / f"{name}.log")  # type: ignore[arg-type]

        def wait_for(self, what: str, ready: object, timeout_s: float, log: Path) -> None:
            assert callable(ready) and ready()

    probed: list[str] = []
    monkeypatch.setattr(devstack, "search_attribute_flags", lambda cfg: ["PrakerjaStatus=Keyword"])
    monkeypatch.setattr(devstack, "succeeds", lambda argv: True)
    monkeypatch.setattr(devstack, "http_status", lambda url: probed.append(url) or 200)
    cfg = devstack.Config({}, PYTHON)
    devstack.start_temporal(cfg, RecordingSupervisor(), {})  # type: ignore[arg-type]
    assert [name for name, _ in started] == ["temporal", "uiproxy"]  # stop_all() goes in reverse
    assert started[1][1] == devstack.ui_proxy_command(cfg)
    assert probed == ["http://127.0.0.1:8233/api/v1/settings"]  # the UI, through the proxy


def test_the_banner_sends_operators_to_the_console_to_decrypt(tmp_path: Path) -> None:
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path)
    local = devstack.banner(devstack.Config({}, PYTHON), sup, {})
    assert "http://127.0.0.1:8233   (decrypted after signing in at http://127.0.0.1:8000/console)" in local
    remote = devstack.banner(devstack.Config({"TEMPORAL_ADDRESS": "x.tmprl.cloud:7233"}, PYTHON), sup, {})
    assert "(your cluster's UI)   (codec endpoint http://127.0.0.1:8000/codec)" in remote


def test_a_remote_temporal_is_not_started() -> None:
    cfg = devstack.Config({"TEMPORAL_ADDRESS": "prakerja.a1b2c.tmprl.cloud:7233"}, PYTHON)
    assert not cfg.embedded_temporal
    assert set(cfg.ports()) == {8000, 8100}
    assert devstack.Config({}, PYTHON).embedded_temporal


def test_the_temporal_cli_does_not_see_the_apps_temporal_settings() -> None:
    env = {"TEMPORAL_TLS": "true", "TEMPORAL_API_KEY": "k", "PATH": "/bin", "PRAKERJA_ENV": "development"}
    assert devstack.cli_env(env) == {"PATH": "/bin", "PRAKERJA_ENV": "development"}


def test_database_password_is_not_printed() -> None:
    url = "postgresql+asyncpg://prakerja:s3cret@db.internal:5432/prakerja"
    assert devstack.redact(url) == "postgresql+asyncpg://prakerja:***@db.internal:5432/prakerja"
    sqlite = "sqlite+aiosqlite:////x/var/prakerja.db"
    assert devstack.redact(sqlite) == sqlite


# ---- dev data, against a fake API + simulators that behave like the real ones ----------------------


class FakePlatform(ThreadingHTTPServer):
    """Partners are created once (409 after), sign keys are shown once; the simulators record keys."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.partners: dict[str, str] = {}
        self.courses: list[dict] = []
        self.sim_keys: dict[str, str] = {}
        self.missing: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeHandler(BaseHTTPRequestHandler):
    server: FakePlatform

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path in self.server.missing:
            return self.reply(404, {"code": "NOT_FOUND"})
        if self.path.startswith("/v1/") and self.headers["Authorization"] != "Bearer dev-admin-token":
            return self.reply(401, {"code": "UNAUTHENTICATED"})
        if self.path == "/v1/admin/partners":
            return self.create_partner(body)
        if self.path == "/v1/admin/courses":
            self.server.courses.append(body)
            return self.reply(201, body)
        self.server.sim_keys[body["client_code"]] = body["sign_key"]
        return self.reply(201, body)

    def create_partner(self, body: dict) -> None:
        code = body["client_code"]
        if code in self.server.partners:
            return self.reply(409, {"code": "PARTNER_EXISTS"})
        self.server.partners[code] = os.urandom(8).hex()
        return self.reply(201, {"client_code": code, "sign_key": self.server.partners[code]})

    def reply(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    server = FakePlatform()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def seeder(platform: FakePlatform, path: Path) -> devdata.Seeder:
    return devdata.Seeder(platform.url, platform.url, "dev-admin-token", path)


def test_first_start_creates_partners_and_keeps_their_keys(platform: FakePlatform, tmp_path: Path) -> None:
    creds_file = tmp_path / "dev-credentials.json"
    creds = seeder(platform, creds_file).run()
    assert {code: entry["sign_key"] for code, entry in creds.items()} == platform.partners
    assert set(platform.partners) == {"DEV-MARKET", "DEV-PROVIDER", "DEV-EWALLET", "DEV-REGISTRY"}
    assert json.loads(creds_file.read_text()) == creds
    assert creds_file.stat().st_mode & 0o777 == 0o600
    assert platform.courses == [devdata.DEV_COURSE] and devdata.DEV_COURSE["price"] == 500_000
    assert platform.sim_keys == {code: platform.partners[code] for code in ("DEV-EWALLET", "DEV-REGISTRY")}


def test_restart_reuses_the_stored_keys(platform: FakePlatform, tmp_path: Path) -> None:
    creds_file = tmp_path / "dev-credentials.json"
    first = seeder(platform, creds_file).run()
    platform.sim_keys.clear()  # the simulators forget everything when they restart
    second = seeder(platform, creds_file).run()
    assert second == first
    assert platform.sim_keys == {code: first[code]["sign_key"] for code in ("DEV-EWALLET", "DEV-REGISTRY")}


def test_missing_endpoints_are_skipped_with_a_warning(
    platform: FakePlatform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.missing = {"/v1/admin/partners", "/v1/admin/courses"}
    assert seeder(platform, tmp_path / "creds.json").run() == {}
    out = capsys.readouterr().out
    assert "/v1/admin/partners answered 404" in out and "/v1/admin/courses answered 404" in out
    assert not (tmp_path / "creds.json").exists()


def test_a_partner_whose_key_was_lost_is_reported(
    platform: FakePlatform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform.partners["DEV-MARKET"] = "created-by-an-earlier-run"
    creds = seeder(platform, tmp_path / "creds.json").run()
    assert "DEV-MARKET" not in creds
    assert "partner DEV-MARKET exists but its sign key is lost" in capsys.readouterr().out


# ---- ports and processes ------------------------------------------------------------------------------


def test_ports_already_taken_are_reported() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert supervise.ports_in_use({port: "API"}) == [f"port {port} (API)"]
    assert supervise.ports_in_use({port: "API"}) == []


def group_members(pgid: int, settle_s: float = 1.0) -> list[int]:
    """Live processes of a process group (SIGKILL is delivered asynchronously: allow it to settle)."""
    deadline = time.monotonic() + settle_s
    while (members := _live_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return members


def _live_members(pgid: int) -> list[int]:
    """From /proc; zombies do not count (an orphan is reaped by init a little later)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rpartition(")")[2].split()[:3]
        except OSError:
            continue
        if int(group) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_stop_leaves_nothing_behind_in_the_childs_group(tmp_path: Path) -> None:
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path, grace_s=5)
    child = sup.start("shell", ["sh", "-c", "sleep 300 & echo started; wait"], dict(os.environ))
    assert os.getpgid(child.proc.pid) == child.proc.pid != os.getpgid(0)  # own group, not ours
    time.sleep(0.2)
    sup.stop_all()
    assert group_members(child.proc.pid) == [] and sup.children == []
    assert "started" in supervise.log_tail(tmp_path / "shell.log")


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path, grace_s=0.3)
    child = sup.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 300"], dict(os.environ))
    time.sleep(0.1)
    began = time.monotonic()
    sup.stop_all()
    assert time.monotonic() - began < 2
    assert child.proc.returncode == -signal.SIGKILL and group_members(child.proc.pid) == []


def test_a_child_that_dies_is_named_with_its_log(tmp_path: Path) -> None:
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path)
    sup.start("worker", ["sh", "-c", "echo first run; exit 0"], dict(os.environ)).proc.wait()
    sup.children.clear()
    sup.start("worker", ["sh", "-c", "echo boom >&2; exit 3"], dict(os.environ)).proc.wait()
    with pytest.raises(supervise.StackError, match=r"worker exited unexpectedly \(exit code 3\)") as err:
        sup.check()
    assert err.value.log is not None
    tail = supervise.log_tail(err.value.log)
    assert "boom" in tail and "first run" not in tail  # only this run's section
    sup.stop_all()


def test_pid_file_of_a_dead_or_foreign_process_counts_as_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "devstack.pid"
    assert supervise.running_pid(pid_file) is None
    pid_file.write_text(str(os.getpid()))  # alive, but (by its command line) not the supervisor: a reused pid
    assert supervise.running_pid(pid_file, marker=b"not-this-process") is None
    assert supervise.running_pid(pid_file, marker=b"python") == os.getpid()
    pid_file.write_text("not a pid")
    assert supervise.running_pid(pid_file) is None
    assert supervise.request_stop(pid_file, timeout_s=1) is None


def test_the_banner_shows_the_metrics_and_the_transparency_page(tmp_path: Path) -> None:
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path)
    shown = devstack.banner(devstack.Config({}, PYTHON), sup, {})
    assert "http://127.0.0.1:8000/metrics   worker http://127.0.0.1:9464/metrics" in shown
    assert "http://127.0.0.1:8000/transparency" in shown
    moved = devstack.Config({"PRAKERJA_WORKER_METRICS_PORT": "19464"}, PYTHON)
    assert "worker http://127.0.0.1:19464/metrics" in devstack.banner(moved, sup, {})


def test_the_api_runs_as_many_processes_as_configured(tmp_path: Path) -> None:
    one, three = devstack.Config({}, PYTHON), devstack.Config({"PRAKERJA_API_WORKERS": "3"}, PYTHON)
    assert options(devstack.app_commands(one)["api"])["--workers"] == ["1"]
    assert options(devstack.app_commands(three)["api"])["--workers"] == ["3"]
    # Several processes share /metrics through files, kept under var/ (one process needs none).
    assert one.api_metrics_dir is None
    assert three.api_metrics_dir == devstack.VAR / "api-metrics"
    sup = supervise.Supervisor(tmp_path, cwd=tmp_path)
    assert "1 process, PRAKERJA_API_WORKERS" in devstack.banner(one, sup, {})
    assert "3 processes, PRAKERJA_API_WORKERS" in devstack.banner(three, sup, {})
