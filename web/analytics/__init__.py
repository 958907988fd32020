from flask import Blueprint

bp = Blueprint("analytics", __name__)

from web.analytics import routes  # noqa: E402,F401
