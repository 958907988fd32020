from flask import Blueprint

bp = Blueprint("health", __name__)

from web.health import routes  # noqa: E402,F401
