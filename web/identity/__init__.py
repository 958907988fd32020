from flask import Blueprint

bp = Blueprint("identity", __name__)

from web.identity import routes  # noqa: E402,F401
