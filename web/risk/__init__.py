from flask import Blueprint

bp = Blueprint("risk", __name__)

from web.risk import routes  # noqa: E402,F401
