"""Claims that record progress: how a job that may die halfway knows, when it is delivered again,
whether to go ahead, resume, skip or wait (`DeliveryLedger.begin`). Small on purpose: the HTTP
function's acknowledgement path imports it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class ClaimState(StrEnum):
    #: First time: go ahead.
    NEW = "new"
    #: Claimed before and not finished: the attempt died or failed; resume from `data`.
    RESUMED = "resumed"
    #: Finished before: nothing to do.
    DONE = "done"
    #: Another attempt is (probably) running right now: try again later.
    BUSY = "busy"


class Claim(NamedTuple):
    state: ClaimState
    #: What earlier attempts recorded with `note` (an id made, a message posted…).
    data: dict[str, str]
    #: When the claim was first made.
    at: datetime
