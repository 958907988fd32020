from flask import Blueprint

bp = Blueprint("connectors", __name__)

from web.connectors import routes, routes_errors  # noqa: E402,F401
