from flask import Blueprint

bp = Blueprint("evidence", __name__)

from web.evidence import routes  # noqa: E402,F401
