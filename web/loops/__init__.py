from flask import Blueprint

bp = Blueprint("loops", __name__)

from web.loops import routes  # noqa: E402,F401
