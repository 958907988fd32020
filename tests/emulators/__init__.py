"""Vendor emulators (Chatwoot, Attio, Linear, OpenAI-compatible embeddings) served over real HTTP.

See `connectors-rag.md` §17. `EmulatorServer` runs them on 127.0.0.1 with an ephemeral port;
`python -m tests.emulators --port N [--demo]` serves them standalone.
"""

from .app import create_emulator_app
from .server import EmulatorServer

__all__ = ["EmulatorServer", "create_emulator_app"]
