"""What the sandbox holds between requests: its institutions, the items linked to them, and the
faults and changes its admin routes ask for."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

FAULTS = ("slow", "server_error", "rate_limited", "login_required")
#: Plaid's sandbox login: any other password is refused.
GOOD_PASSWORD = "pass_good"  # noqa: S105  # nosec B105 (a test credential, public by design)
#: How much lower a balance is reported a year before today (a steady trend to draw).
PAST_GROWTH = Decimal("0.10")
#: The kinds of account Plaid's /liabilities/get describes.
LIABILITY_KINDS = ("credit", "mortgage", "student")


@dataclass
class Fault:
    kind: str
    #: How many more calls it applies to; None for every call until cleared.
    remaining: int | None
    seconds: float


@dataclass
class SandboxState:
    institutions: dict[str, dict[str, Any]]
    #: public token -> (institution id, webhook URL)
    public_tokens: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)
    #: item id -> (institution id, that item's accounts)
    items: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)
    webhooks: dict[str, str | None] = field(default_factory=dict)
    #: item id -> the past day its accounts are reported as of
    as_of: dict[str, date] = field(default_factory=dict)
    #: item id -> Plaid's `liabilities` object for it
    liabilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Items whose login broke: ITEM_LOGIN_REQUIRED until updated with good credentials.
    broken: set[str] = field(default_factory=set)
    fault: Fault | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self) -> Fault | None:
        with self.lock:
            fault = self.fault
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.fault = None
            return fault
