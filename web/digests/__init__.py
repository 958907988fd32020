from flask import Blueprint

bp = Blueprint("digests", __name__)

from web.digests import routes  # noqa: E402,F401
