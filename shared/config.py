"""Configuration read once from the environment into a frozen ``Settings``.

Every platform variable of spec/platform.md §13 is here with its documented default. Clamped
integers fall back to their default on a parse failure; enumerated values and missing required
values stop the process at start with a message naming the variable (``ConfigurationError``).
Domain settings (connectors, embeddings) parse their own variables from ``settings.environ``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from werkzeug.security import generate_password_hash

from shared.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///./var/keel.db"
INSECURE_DEV_SECRET = "keel-insecure-development-secret-change-me-0000"
TRUE_WORDS = {"1", "true", "yes", "on", "enabled"}
CONNECTORS = ("chatwoot", "attio", "linear")
CONNECTOR_MODES = ("http", "mcp")
LOG_LEVELS = ("debug", "info", "warning", "error")
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """Feature-flag parsing of platform §12: unset/empty → default; true words → True; else False."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in TRUE_WORDS


def env_int(environ: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = (environ.get(name) or "").strip()
    try:
        value = int(raw, 10)
    except ValueError:
        return default
    return max(lo, min(hi, value))


def normalize_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class OperatorCredentials:
    username: str
    password_hash: str
    plain_password: str | None = field(default=None, repr=False)


def resolve_operator(environ: Mapping[str, str], production: bool) -> OperatorCredentials:
    """Platform §3.1 resolution order; only a hash is kept beyond start-up."""
    combined = environ.get("AUTH_CREDENTIALS")
    username = password = password_hash = None
    if combined is not None and combined != "":
        login, sep, secret = combined.partition(":")
        if not sep or not login.strip() or not secret:
            raise ConfigurationError("AUTH_CREDENTIALS must be 'login:password' with both parts non-empty")
        username, password = login.strip(), secret
    else:
        username = (environ.get("AUTH_USERNAME") or environ.get("ADMIN_USERNAME") or "").strip() or None
        password_hash = environ.get("AUTH_PASSWORD_HASH") or None
        if not password_hash:
            password = environ.get("AUTH_PASSWORD") or environ.get("ADMIN_PASSWORD") or None
    if not username or not (password or password_hash):
        raise ConfigurationError("operator credentials missing: set AUTH_CREDENTIALS as login:password")
    if production and password is not None and (len(password) < 8 or password == "admin"):
        raise ConfigurationError("AUTH_CREDENTIALS: the operator password is too weak for APP_ENV=production")
    if password_hash is None:
        password_hash = generate_password_hash(password)
    return OperatorCredentials(username=username, password_hash=password_hash, plain_password=password)


@dataclass(frozen=True)
class Settings:
    environ: Mapping[str, str] = field(repr=False)
    database_url: str
    redis_url: str
    app_env: str
    session_secret: str = field(repr=False)
    port: int
    host: str
    web_concurrency: int
    log_level: str
    operator: OperatorCredentials = field(repr=False)
    session_cookie_name: str
    csrf_cookie_name: str
    session_ttl_seconds: int
    csrf_ssl_strict: bool
    cors_origins: tuple[str, ...]
    trusted_proxy_count: int
    max_body_bytes: int
    login_max_attempts: int
    login_window_minutes: int
    metrics_token: str | None = field(repr=False)
    storage_budget_gb: float
    storage_alert_threshold_pct: int
    worker_interval_seconds: int
    worker_tick_limit: int
    scheduler_poll_seconds: int
    scheduler_enabled: bool
    job_timeout_seconds: int
    platform_job_timeout_seconds: int
    job_result_ttl_seconds: int
    job_failure_ttl_seconds: int
    connector_mode: str
    connector_modes: Mapping[str, str]
    connector_enabled: Mapping[str, bool]
    connector_http_max_attempts: int
    connector_retry_after_max_seconds: int
    connector_retry_sweep_seconds: int
    kag_event_log_lookback_days: int
    rq_dashboard_enabled: bool
    prometheus_multiproc_dir: str | None
    flags: Mapping[str, bool]

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def flag(self, name: str) -> bool:
        return self.flags[name]

    def connector_mode_for(self, connector: str) -> str:
        return self.connector_modes.get(connector) or self.connector_mode

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        app_env = (env.get("APP_ENV") or "development").strip().lower()
        production = app_env == "production"
        secret = env.get("SESSION_SECRET") or ""
        if not secret:
            if production:
                raise ConfigurationError("SESSION_SECRET is required when APP_ENV=production")
            secret = INSECURE_DEV_SECRET
        elif production and len(secret) < 32:
            raise ConfigurationError("SESSION_SECRET must be at least 32 characters in production")
        log_level = (env.get("LOG_LEVEL") or "info").strip().lower()
        if log_level not in LOG_LEVELS:
            raise ConfigurationError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        mode = (env.get("CONNECTOR_MODE") or "http").strip().lower()
        if mode not in CONNECTOR_MODES:
            raise ConfigurationError("CONNECTOR_MODE must be 'http' or 'mcp'")
        modes: dict[str, str] = {}
        for name in CONNECTORS:
            var = f"CONNECTOR_{name.upper()}_MODE"
            value = (env.get(var) or "").strip().lower()
            if value and value not in CONNECTOR_MODES:
                raise ConfigurationError(f"{var} must be 'http', 'mcp' or empty")
            modes[name] = value
        cookies = {}
        for var, default in (("SESSION_COOKIE_NAME", "sid"), ("CSRF_COOKIE_NAME", "csrf_token")):
            value = (env.get(var) or default).strip()
            if not _COOKIE_NAME.match(value):
                raise ConfigurationError(f"{var} must be 1-64 cookie token characters")
            cookies[var] = value
        try:
            budget = float(env.get("STORAGE_BUDGET_GB") or 20)
        except ValueError:
            budget = 20.0
        values: dict[str, object] = dict(
            environ=MappingProxyType(env),
            database_url=normalize_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            redis_url=env.get("REDIS_URL") or "redis://localhost:6379/0",
            app_env=app_env,
            session_secret=secret,
            port=env_int(env, "PORT", 8080, 1, 65535),
            host=env.get("HOST") or "0.0.0.0",
            web_concurrency=env_int(env, "WEB_CONCURRENCY", 2, 1, 64),
            log_level=log_level,
            operator=resolve_operator(env, production),
            session_cookie_name=cookies["SESSION_COOKIE_NAME"],
            csrf_cookie_name=cookies["CSRF_COOKIE_NAME"],
            session_ttl_seconds=env_int(env, "SESSION_TTL_SECONDS", 1_209_600, 3600, 7_776_000),
            csrf_ssl_strict=env_flag(env, "CSRF_SSL_STRICT", False),
            cors_origins=tuple(
                o.strip() for o in (env.get("CORS_ORIGIN") or "http://localhost:3000").split(",") if o.strip()
            ),
            trusted_proxy_count=env_int(env, "TRUSTED_PROXY_COUNT", 1, 0, 5),
            max_body_bytes=env_int(env, "MAX_BODY_BYTES", 65_536, 1024, 1_048_576),
            login_max_attempts=env_int(env, "LOGIN_RATE_LIMIT_MAX_ATTEMPTS", 10, 3, 100),
            login_window_minutes=env_int(env, "LOGIN_RATE_LIMIT_WINDOW_MINUTES", 15, 1, 1440),
            metrics_token=env.get("METRICS_TOKEN") or None,
            storage_budget_gb=budget if budget > 0 else 20.0,
            storage_alert_threshold_pct=env_int(env, "STORAGE_ALERT_THRESHOLD_PCT", 85, 1, 100),
            worker_interval_seconds=env_int(env, "WORKER_INTERVAL_SECONDS", 60, 10, 3600),
            worker_tick_limit=env_int(env, "WORKER_TICK_LIMIT", 25, 1, 100),
            scheduler_poll_seconds=env_int(env, "SCHEDULER_POLL_SECONDS", 10, 1, 60),
            scheduler_enabled=env_flag(env, "SCHEDULER_ENABLED", True),
            job_timeout_seconds=env_int(env, "JOB_TIMEOUT_SECONDS", 900, 60, 3600),
            platform_job_timeout_seconds=120,
            job_result_ttl_seconds=env_int(env, "JOB_RESULT_TTL_SECONDS", 86_400, 60, 31_536_000),
            job_failure_ttl_seconds=env_int(env, "JOB_FAILURE_TTL_SECONDS", 1_209_600, 60, 31_536_000),
            connector_mode=mode,
            connector_modes=MappingProxyType(modes),
            connector_enabled=MappingProxyType(
                {c: env_flag(env, f"CONNECTOR_{c.upper()}_ENABLED", True) for c in CONNECTORS}
            ),
            connector_http_max_attempts=env_int(env, "CONNECTOR_HTTP_MAX_ATTEMPTS", 3, 1, 10),
            connector_retry_after_max_seconds=env_int(env, "CONNECTOR_RETRY_AFTER_MAX_SECONDS", 60, 1, 600),
            connector_retry_sweep_seconds=env_int(env, "CONNECTOR_RETRY_SWEEP_SECONDS", 300, 60, 3600),
            kag_event_log_lookback_days=env_int(env, "KAG_EVENT_LOG_LOOKBACK_DAYS", 14, 1, 90),
            rq_dashboard_enabled=env_flag(env, "RQ_DASHBOARD_ENABLED", True),
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            flags=MappingProxyType({
                name: env_flag(env, name, True)
                for name in (
                    "KAG_ENABLED", "RECOMMENDATIONS_ENABLED", "KAG_SNAPSHOTS_ENABLED",
                    "KAG_FORECASTING_ENABLED", "KAG_RECOMMENDATIONS_V2_ENABLED",
                )
            }),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
