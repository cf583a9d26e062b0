"""Every setting the processes read, from environment variables (names are part of the public contract)."""

from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.terms import PROFILES

ROOT = Path(__file__).resolve().parent.parent

# Development secrets: fine on a laptop, refused when PRAKERJA_ENV=production.
DEV_ADMIN_TOKEN = "dev-admin-token"
DEV_CODEC_KEYS = "dev-2026:ZGV2LW9ubHktY29kZWMta2V5LWRvLW5vdC11c2UtMzI="
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"


class Env(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class AdapterMode(StrEnum):
    HTTP = "http"
    SIMULATED = "simulated"


def _env(name: str, *more: str) -> AliasChoices:
    return AliasChoices(name, *more)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Env = Field(Env.DEVELOPMENT, validation_alias=_env("PRAKERJA_ENV"))
    profile: str = Field("prakerja-2020", validation_alias=_env("PRAKERJA_PROFILE"))
    time_scale: float = Field(1.0, gt=0, validation_alias=_env("PRAKERJA_TIME_SCALE"))
    admin_token: str = Field(DEV_ADMIN_TOKEN, min_length=12, validation_alias=_env("PRAKERJA_ADMIN_TOKEN"))
    database_url: str = Field(
        f"sqlite+aiosqlite:///{ROOT / 'var' / 'prakerja.db'}", validation_alias=_env("DATABASE_URL")
    )
    temporal_address: str = Field("127.0.0.1:7233", validation_alias=_env("TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field("default", validation_alias=_env("TEMPORAL_NAMESPACE"))
    temporal_tls: bool = Field(False, validation_alias=_env("TEMPORAL_TLS"))
    temporal_tls_cert: Path | None = Field(None, validation_alias=_env("TEMPORAL_TLS_CERT"))
    temporal_tls_key: Path | None = Field(None, validation_alias=_env("TEMPORAL_TLS_KEY"))
    temporal_api_key: str | None = Field(None, validation_alias=_env("TEMPORAL_API_KEY"))
    task_queue: str = Field("prakerja-journeys", validation_alias=_env("PRAKERJA_TASK_QUEUE"))
    # The worker serves the Temporal SDK's metrics (and its own) in Prometheus format here; unset: not served.
    worker_metrics_port: int | None = Field(None, ge=1, le=65535, validation_alias=_env("PRAKERJA_WORKER_METRICS_PORT"))
    # Workflows run in the SDK's sandbox, which refuses non-deterministic calls at run time. Tests, replays and the dev
    # stack keep it; a production worker whose code those passed may turn it off: a quarter less worker CPU per
    # journey (benchmarks/README.md), the same histories.
    workflow_sandbox: bool = Field(True, validation_alias=_env("PRAKERJA_WORKFLOW_SANDBOX"))
    # API processes (`python -m api`, uvicorn --workers). One by default: several need Redis for exact rate limits
    # (PRAKERJA_REDIS_URL; else each process counts its own) and share /metrics through PROMETHEUS_MULTIPROC_DIR.
    api_workers: int = Field(1, ge=1, le=64, validation_alias=_env("PRAKERJA_API_WORKERS"))
    # A payment not final this long after its first attempt is late (the SLA report); programme time.
    payment_sla_s: float = Field(86400.0, gt=0, validation_alias=_env("PRAKERJA_PAYMENT_SLA_S"))
    # A course assessment still pending this long after submission is escalated OVERDUE; programme time.
    assessment_sla_days: float = Field(14.0, gt=0, validation_alias=_env("PRAKERJA_ASSESSMENT_SLA_DAYS"))
    # Traces go over OTLP/HTTP to this collector when set (OpenTelemetry's own variable); unset, none leave.
    otel_endpoint: str | None = Field(None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT"))
    adapters: AdapterMode = Field(AdapterMode.HTTP, validation_alias=_env("PRAKERJA_ADAPTERS"))
    # One base URL serves every partner system in development (the simulators); production sets each.
    partner_base_url: str = Field("http://127.0.0.1:8100", validation_alias=_env("PRAKERJA_PARTNER_BASE_URL"))
    civil_registry_url: str | None = Field(None, validation_alias=_env("PRAKERJA_CIVIL_REGISTRY_URL"))
    biometrics_url: str | None = Field(None, validation_alias=_env("PRAKERJA_BIOMETRICS_URL"))
    social_affairs_url: str | None = Field(None, validation_alias=_env("PRAKERJA_SOCIAL_AFFAIRS_URL"))
    marketplace_url: str | None = Field(None, validation_alias=_env("PRAKERJA_MARKETPLACE_URL"))
    payment_url: str | None = Field(None, validation_alias=_env("PRAKERJA_PAYMENT_URL"))
    messaging_url: str | None = Field(None, validation_alias=_env("PRAKERJA_MESSAGING_URL"))  # SMS gateway
    # Registration waits for the applicant's phone to confirm a one-time code before the journey (and its partner
    # calls) starts. Off by default: the contract's registration starts the journey at once.
    verify_contact: bool = Field(False, validation_alias=_env("PRAKERJA_VERIFY_CONTACT"))
    partner_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("PRAKERJA_PARTNER_TIMEOUT_S"))
    # "kid:base64key,kid:base64key"; the first key encrypts, all of them decrypt (rotation).
    codec_keys: str = Field(DEV_CODEC_KEYS, validation_alias=_env("PRAKERJA_CODEC_KEYS"))
    # Keys the NIK hash and encrypts partner sign keys at rest.
    secret_key: str = Field(DEV_SECRET_KEY, min_length=32, validation_alias=_env("PRAKERJA_SECRET_KEY"))
    face_match_threshold: float = Field(0.8, ge=0, le=1, validation_alias=_env("PRAKERJA_FACE_MATCH_THRESHOLD"))
    ui_origin: str = Field("http://127.0.0.1:8233", validation_alias=_env("PRAKERJA_UI_ORIGIN"))
    api_public_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("PRAKERJA_API_URL"))
    # Partner-call activities per second on each payment partner's queue (enforced by the Temporal server).
    payment_rate_per_s: float = Field(20.0, gt=0, validation_alias=_env("PRAKERJA_PAYMENT_RATE_PER_S"))
    signature_window_s: int = Field(300, validation_alias=_env("PRAKERJA_SIGNATURE_WINDOW_S"))
    # Rate limits (api/ratelimit.py); 0 turns one off. Counted in Redis when PRAKERJA_REDIS_URL is set (shared by
    # every API process), otherwise in each process's memory (development).
    rate_registrations_per_min: float = Field(120, ge=0, validation_alias=_env("PRAKERJA_RATE_REGISTRATIONS_PER_MIN"))
    rate_public_per_s: float = Field(50, ge=0, validation_alias=_env("PRAKERJA_RATE_PUBLIC_PER_S"))
    rate_partner_per_s: float = Field(100, ge=0, validation_alias=_env("PRAKERJA_RATE_PARTNER_PER_S"))
    rate_staff_per_s: float = Field(20, ge=0, validation_alias=_env("PRAKERJA_RATE_STAFF_PER_S"))
    redis_url: str | None = Field(None, validation_alias=_env("PRAKERJA_REDIS_URL"))
    # Behind a reverse proxy: the header it sets to the client's address (e.g. X-Forwarded-For, whose last entry
    # is the one the proxy appended). Unset, the socket peer is the client; never trusted unless configured.
    client_ip_header: str | None = Field(None, validation_alias=_env("PRAKERJA_CLIENT_IP_HEADER"))

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown programme profile; one of {', '.join(PROFILES)}")
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        if self.env is Env.PRODUCTION:
            weak = [
                name
                for name, value, dev in (
                    ("PRAKERJA_ADMIN_TOKEN", self.admin_token, DEV_ADMIN_TOKEN),
                    ("PRAKERJA_CODEC_KEYS", self.codec_keys, DEV_CODEC_KEYS),
                    ("PRAKERJA_SECRET_KEY", self.secret_key, DEV_SECRET_KEY),
                )
                if value == dev or dev in value
            ]
            if weak:
                raise ValueError(f"refusing to start in production with development secrets: {', '.join(weak)}")
        return self

    def url_for(self, system: str) -> str:
        """Base URL of one partner system (falls back to the shared simulator URL)."""
        return (getattr(self, f"{system}_url") or self.partner_base_url).rstrip("/")


def load_settings() -> Settings:
    """Settings from the environment; invalid ones stop the process without echoing their values (secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise SystemExit(f"invalid settings: {problems}") from None
