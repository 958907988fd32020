from flask import Blueprint

bp = Blueprint("continuity", __name__)

from web.continuity import routes  # noqa: E402,F401
