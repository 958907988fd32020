from flask import Blueprint

bp = Blueprint("inbox", __name__)

from web.inbox import routes  # noqa: E402,F401
