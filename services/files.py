"""Reading the JSON files people hand the bot (snapshots, known IPs, service tags)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, what: str, error: type[ValueError]) -> Any:
    """The parsed JSON in `path`; raises `error` with a one-line message naming the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} file {str(path)!r} is not JSON: {exc}") from exc
    except RecursionError:
        raise error(f"{what} file {str(path)!r} is nested too deeply to be read") from None
