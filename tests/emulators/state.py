"""In-memory state shared by every emulator: vendor stores, the fault queue and the request log."""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from .faults import Fault

VENDORS = ("chatwoot", "attio", "linear", "openai", "loops")
REQUEST_LOG_MAX = 50_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_datetime(value: Any) -> datetime | None:
    """Epoch seconds/milliseconds or ISO-8601 (up to nanoseconds) → aware UTC datetime; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # trim fractional digits to microseconds, keep the offset
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sort_time(value: Any) -> float:
    """A total order for possibly garbage timestamps (unknown → 0)."""
    parsed = to_datetime(value)
    return parsed.timestamp() if parsed else 0.0


def iso_ms(dt: datetime) -> str:
    """Linear style: 2024-05-01T10:00:00.000Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso_ns(dt: datetime) -> str:
    """Attio style: 2024-05-01T10:00:00.000000000Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}000Z"


class EmulatorState:
    """Everything the emulators remember. Handlers hold `lock` while they read or change a store."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stores: dict[str, Any] = {}
        self.faults: list[Fault] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_MAX)
        self._seq = 0
        self._wake = threading.Event()

    def reset(self) -> None:
        with self.lock:
            self.stores.clear()
            self.faults.clear()
            self.log.clear()
            self.wake_sleepers()

    def wake_sleepers(self) -> None:
        """End every pending `delay_ms` at once (reset, shutdown)."""
        self._wake.set()
        self._wake = threading.Event()

    def sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)

    def take_fault(self, vendor: str, method: str, path: str, operation: str | None) -> Fault | None:
        """Consume one use of the first queued fault matching the request (FIFO)."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(vendor, method, path, operation):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._seq += 1
            entry["seq"] = self._seq
            self.log.append(entry)
        return entry
