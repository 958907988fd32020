"""Ops one-shot: run ``scheduler_tick_all`` inline and print its summary as JSON."""

from __future__ import annotations

import json
import sys

from shared import logs
from shared.config import Settings
from shared.runtime import Runtime, install


def main() -> int:
    from jobs.platform import scheduler_tick_all

    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install(Runtime(settings))
    result = scheduler_tick_all()
    print(json.dumps({"ok": "skipped" not in result, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
