from __future__ import annotations

from typing import Any

from shared.errors import InvalidInput
from web.validation import Body


class LoginIn(Body):
    """``{"username", "password"}``; checked by ``normalized()`` with the spec's codes (platform §6.2)."""

    model_config = Body.model_config | {"strict": False}
    username: Any = None
    password: Any = None

    def normalized(self) -> tuple[str, str]:
        if not isinstance(self.username, str) or not isinstance(self.password, str):
            raise InvalidInput("missing_credentials", "Missing credentials")
        username = self.username.strip().lower()
        if not username or not self.password:
            raise InvalidInput("missing_credentials", "Missing credentials")
        if len(username) > 200 or len(self.password) > 1024:
            raise InvalidInput("invalid_credentials_format", "Invalid credentials format")
        return username, self.password
