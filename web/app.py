"""The app factory: the only place a Flask app is built (gunicorn: ``web.app:create_app()``)."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import logs
from shared.config import Settings
from shared.runtime import Runtime, install

log = logging.getLogger(__name__)

BLUEPRINTS = (
    "web.health", "web.metrics", "web.openapi", "web.auth", "web.projects", "web.audit", "web.jobs",
    "web.search", "web.connectors", "web.inbox", "web.kag", "web.kag_v2", "web.signals",
    "web.crm", "web.offers", "web.digests", "web.risk", "web.analytics", "web.portfolio",  # business core
    "web.upsell", "web.continuity", "web.identity", "web.outbound", "web.loops", "web.evidence",  # business B
)


def _blueprint(module_name: str):  # noqa: ANN202
    import importlib

    return importlib.import_module(module_name).bp


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    logs.configure(settings.log_level)
    rt = install(runtime or Runtime(settings))
    app = Flask(__name__)
    app.extensions["keel.runtime"] = rt
    app.json.sort_keys = False
    app.url_map.strict_slashes = False
    if settings.trusted_proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxy_count)

    from web import errors, metrics, pipeline
    from web.auth import login_manager
    from web.context import close_db
    from web.sessions import DbSessionInterface

    app.session_interface = DbSessionInterface()
    login_manager.init_app(app)
    metrics.init_app(app)
    pipeline.init_app(app)
    errors.init_app(app)
    app.teardown_appcontext(close_db)
    for name in BLUEPRINTS:
        bp = _blueprint(name)
        app.register_blueprint(bp)
        app.register_blueprint(bp, url_prefix="/v1", name=f"v1_{bp.name}")
    if settings.rq_dashboard_enabled:
        from web.dashboard import mount_dashboard

        mount_dashboard(app, settings)
    _startup_checks(app, rt)
    return app


def _startup_checks(app: Flask, rt: Runtime) -> None:
    """Bootstrap the operator and warn when the schema is not at head (web never migrates)."""
    from shared.db.migrate import current_revision, head_revision
    from web.auth.service import bootstrap_operator

    try:
        with rt.engine.connect() as conn:
            current = current_revision(conn)
        if current != head_revision():
            log.error("database is not at the Alembic head revision; run the release step",
                      extra={"fields": {"current": current, "head": head_revision()}})
            return
        with rt.transaction() as s:
            bootstrap_operator(s, rt.settings)
    except Exception:  # noqa: BLE001 - the app still serves /health and reports the problem
        log.exception("start-up checks failed")
