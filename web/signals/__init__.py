from flask import Blueprint

bp = Blueprint("signals", __name__)

from web.signals import routes  # noqa: E402,F401
