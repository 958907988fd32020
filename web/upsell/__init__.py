from flask import Blueprint

bp = Blueprint("upsell", __name__)

from web.upsell import routes  # noqa: E402,F401
