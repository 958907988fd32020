"""flask-login wiring (platform §3.2): the user comes from the request's session record.

The request pipeline guards protected views centrally, so flask-login only exposes ``current_user``;
``user_loader`` builds the operator from the session row already loaded (no extra query), there is no
remember-me cookie, and the unauthorized handler answers the 401 envelope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Flask, g
from flask_login import LoginManager, UserMixin

from shared.errors import Unauthorized


@dataclass
class Operator(UserMixin):
    user_id: uuid.UUID
    username: str

    def get_id(self) -> str:
        return str(self.user_id)


def _load_user(user_id: str) -> Operator | None:
    ctx = g.get("auth")
    if ctx is None or str(ctx.user_id) != user_id:
        return None
    return Operator(ctx.user_id, ctx.username)


def _unauthorized() -> None:
    raise Unauthorized(message="Authentication required")


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.session_protection = None
    manager.user_loader(_load_user)
    manager.unauthorized_handler(_unauthorized)
    manager.init_app(app)
