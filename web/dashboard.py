"""rq-dashboard at ``/rq`` behind the operator login (platform §1, §3.4); no CSRF on its posts.

The request pipeline already requires a valid session for every path under ``/rq``.
"""

from __future__ import annotations

from flask import Flask
from rq.serializers import JSONSerializer

from shared.config import Settings


def mount_dashboard(app: Flask, settings: Settings) -> None:
    import rq_dashboard
    from rq_dashboard import web as dashboard_web

    from web.pipeline import csrf

    app.config["RQ_DASHBOARD_REDIS_URL"] = settings.redis_url
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    dashboard_web.config.serializer = JSONSerializer  # the serializer our queues use
    dashboard_web.setup_rq_connection(app)
    csrf.exempt(rq_dashboard.blueprint)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
