"""Plain values for the front door: frozen dataclasses with the part of a pydantic model's API the
rest of the code calls on them (`model_dump`, `model_dump_json`, `model_copy`), and the length
limits of their text fields, checked when one is made.

Why not pydantic models: importing pydantic and building a first model costs a cold start about
as much as an acknowledgement's whole budget beside a bare Bolt app (`bench/front_door.py`), and
the front door only writes these values. Where they are read back and trusted, pydantic checks
them from the same annotations: the worker validates a job with a `TypeAdapter` of its dataclass
(`bot.bus`), and pydantic runs `__post_init__`, so the limits hold there too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Self


class Plain:
    """Base of a frozen dataclass the front door makes (see the module's notes)."""

    #: Field → the most characters it may hold.
    LIMITS: ClassVar[Mapping[str, int]] = {}

    def __post_init__(self) -> None:
        for name, most in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > most:
                raise ValueError(f"{name} holds {len(value)} characters, more than {most}")

    def model_dump(self) -> dict[str, Any]:
        """The fields as a dict (nested values as dicts too)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    def model_dump_json(self) -> str:
        """The fields as compact JSON, as pydantic writes a model (what the job queue sends)."""
        return json.dumps(self.model_dump(), ensure_ascii=False, separators=(",", ":"))

    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with `update`'s fields replaced (and checked again)."""
        return dataclasses.replace(self, **update)  # type: ignore[type-var]
