from flask import Blueprint

bp = Blueprint("jobs", __name__)

from web.jobs import routes  # noqa: E402,F401
