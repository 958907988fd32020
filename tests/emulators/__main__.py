"""Serve the emulators standalone: `python -m tests.emulators --port 8765 [--demo] [--fixtures f.json]`."""

from __future__ import annotations

import argparse
import json
import sys

from werkzeug.serving import make_server

from .app import create_emulator_app
from .demo_data import build_demo_fixtures
from .server import EmulatorRequestHandler, QuietHandler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--demo", action="store_true", help="preload the bilingual demo dataset")
    parser.add_argument("--fixtures", help="JSON file with a POST /__emu/fixtures body to preload")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    fixtures = build_demo_fixtures() if args.demo else {}
    if args.fixtures:
        with open(args.fixtures, encoding="utf-8") as fh:
            fixtures.update(json.load(fh))
    app = create_emulator_app(fixtures)
    handler = QuietHandler if args.quiet else EmulatorRequestHandler
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=handler)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = {
        "CHATWOOT_BASE_URL": f"{base}/chatwoot", "ATTIO_BASE_URL": f"{base}/attio",
        "LINEAR_BASE_URL": f"{base}/linear/graphql", "OPENAI_BASE_URL": f"{base}/openai/v1",
        "LOOPS_API_BASE_URL": f"{base}/loops/api/v1",
    }
    if args.demo:
        from . import demo_data as d

        settings.update({
            "CHATWOOT_API_TOKEN": d.DEMO_CHATWOOT_TOKEN, "CHATWOOT_ACCOUNT_ID": str(d.DEMO_CHATWOOT_ACCOUNT_ID),
            "ATTIO_API_TOKEN": d.DEMO_ATTIO_TOKEN, "ATTIO_WORKSPACE_ID": d.DEMO_ATTIO_WORKSPACE_ID,
            "LINEAR_API_TOKEN": d.DEMO_LINEAR_TOKEN, "LINEAR_WORKSPACE_ID": d.DEMO_LINEAR_ORG_ID,
            "OPENAI_API_KEY": d.DEMO_OPENAI_KEY,
        })
    print(f"vendor emulators on {base} (control: {base}/__emu/...)", file=sys.stderr)
    for key, value in settings.items():
        print(f"{key}={value}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
