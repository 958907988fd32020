from flask import Blueprint

bp = Blueprint("kag", __name__)

from web.kag import routes  # noqa: E402,F401
