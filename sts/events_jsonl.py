"""events.jsonl in: zone events as `sts track` writes them (docs/events.md), bad lines named."""

from __future__ import annotations

import json
from pathlib import Path

from engine.events import EventKind, ZoneEvent
from geometry.errors import InputError
from sts.text_input import check_input_path, decode_text
from transports.json_codec import decode_event


def read_events(path: Path) -> list[ZoneEvent]:
    """Zone events from JSON lines (docs/events.md); bad lines are errors naming the line."""
    events = []
    problems = []
    offset = 0
    with check_input_path(path, "events file").open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = decode_text(raw, f"{path}: line {lineno} (from byte {offset})")
            offset += len(raw)
            if not line.strip():
                continue
            try:
                events.append(_event(line))
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"line {lineno}: {exc}")
                if len(problems) >= 20:
                    problems.append("(stopped after 20 problems)")
                    break
    if problems:
        head = (
            f"{path}: {len(problems)} bad line(s); each must be a JSON event as in docs/events.md"
        )
        raise InputError("\n  ".join([head, *problems]))
    return events


def _event(line: str) -> ZoneEvent:
    """One events.jsonl line, decoded by the JSON codec, with messages a person can act on."""
    try:
        return decode_event(line)
    except KeyError as exc:
        raise KeyError(f"missing {exc.args[0]!r}") from None
    except ValueError as exc:
        obj = json.loads(line) if line.lstrip().startswith("{") else None
        if isinstance(obj, dict) and obj.get("kind") not in {k.value for k in EventKind}:
            kinds = ", ".join(k.value for k in EventKind)
            raise ValueError(f"unknown kind {obj.get('kind')!r}; use one of {kinds}") from None
        raise ValueError(str(exc)) from None
