from flask import Blueprint

bp = Blueprint("kag_v2", __name__)

from web.kag_v2 import routes  # noqa: E402,F401
