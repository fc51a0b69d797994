"""Loading and writing floorplans: project GeoJSON files, IMDF folders and IMDF zips.

The application-layer shell around the pure parsers (geometry.floorplan_format,
geometry.imdf) and checks (geometry.validation): it reads the files, turns broken JSON
into an InputError naming the file, line and column, and raises FloorplanError with
every problem when any is an error. Warnings come back with the plan.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from geometry.errors import FloorplanError, InputError, Problem
from geometry.floorplan_format import dump_floorplan, parse_floorplan
from geometry.imdf import parse_imdf
from geometry.model import Floorplan, GeoPoint
from geometry.validation import DEFAULT_TOLERANCES, Tolerances, check
from sts.text_input import decode_text, parse_json, read_text

FLOORPLAN_FILE = "floorplan.geojson"
#: Files whose presence marks a folder (or zip) as an IMDF archive.
IMDF_MARKERS = ("venue.geojson", "manifest.json")
#: The largest file read from an archive (an IMDF unit.geojson of a big campus is ~10 MB).
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadedFloorplan:
    """A floorplan that passed validation, the warnings it raised, and where it came from."""

    floorplan: Floorplan
    warnings: tuple[Problem, ...]
    source: str


def _read_file(path: Path) -> Any:
    """The parsed JSON of one file."""
    return parse_json(read_text(path, "floorplan", max_bytes=MAX_FILE_BYTES), str(path))


def _imdf_folder(folder: Path) -> dict[str, Any]:
    """Every .geojson/.json file of an IMDF folder, parsed, by file name."""
    return {
        p.name: _read_file(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in (".geojson", ".json")
    }


def _imdf_zip(path: Path) -> dict[str, Any]:
    """Every .geojson/.json member of an IMDF zip (at its root or in one folder), parsed."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a readable zip file. Fix: re-export the archive") from None
    files: dict[str, Any] = {}
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            member = PurePosixPath(info.filename)
            if info.is_dir() or member.suffix not in (".geojson", ".json"):
                continue
            if member.name.startswith("._") or "__MACOSX" in member.parts:
                continue  # macOS resource forks, not data
            if info.file_size > MAX_FILE_BYTES:
                raise InputError(f"{path}:{info.filename}: larger than the limit; not IMDF")
            name = f"{path}:{info.filename}"
            if member.name in files:
                raise InputError(
                    f"{path}: holds {member.name} twice (in different folders). "
                    "Fix: zip one IMDF archive at a time"
                )
            files[member.name] = parse_json(decode_text(zf.read(info), name), name)
    if not any(m in files for m in IMDF_MARKERS):
        raise InputError(
            f"{path}: the zip has no venue.geojson or manifest.json, so it is not an IMDF "
            "archive. Fix: zip the IMDF folder's files"
        )
    return files


def _is_imdf_folder(folder: Path) -> bool:
    """Whether a folder holds an IMDF archive."""
    return any((folder / m).is_file() for m in IMDF_MARKERS)


def read_floorplan(
    path: str | Path, origin: GeoPoint | None = None
) -> tuple[Floorplan, list[Problem], str]:
    """The parsed plan, its parse problems and its source name (no validation yet)."""
    p = Path(path)
    if p.is_dir():
        if (p / FLOORPLAN_FILE).is_file():
            p = p / FLOORPLAN_FILE
        elif _is_imdf_folder(p):
            fp, problems = parse_imdf(_imdf_folder(p), str(p), origin=origin)
            return fp, problems, str(p)
        else:
            raise InputError(
                f"{p}: holds neither {FLOORPLAN_FILE} nor an IMDF archive (venue.geojson, "
                "manifest.json). Fix: give the plan's file or folder"
            )
    elif p.suffix.lower() == ".zip":
        fp, problems = parse_imdf(_imdf_zip(p), str(p), origin=origin)
        return fp, problems, str(p)
    elif not p.exists():
        raise InputError(f"{p}: no such file or folder. Fix: check the path")
    doc = _read_file(p)
    if not isinstance(doc, Mapping):
        raise InputError(f"{p}: the JSON is not an object. Fix: give a FeatureCollection")
    fp, problems = parse_floorplan(doc, str(p))
    return fp, problems, str(p)


def load_floorplan(
    path: str | Path,
    *,
    origin: GeoPoint | None = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> LoadedFloorplan:
    """Read, parse and validate a plan; FloorplanError lists every problem if any is an error."""
    fp, problems, source = read_floorplan(path, origin=origin)
    # Checked even after parse errors, so one run reports every problem; a feature that
    # could not be parsed is absent, which may add a knock-on error (a door naming it).
    repaired, more = check(fp, tolerances)
    problems = _dedupe(problems + more)
    if any(p.severity == "error" for p in problems):
        raise FloorplanError(source, problems)
    return LoadedFloorplan(repaired, tuple(problems), source)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """The problems without exact repeats, in first-seen order."""
    return list(dict.fromkeys(problems))


def floorplan_json(fp: Floorplan) -> str:
    """The project GeoJSON text of a plan: one feature per line, stable byte for byte."""
    doc = dump_floorplan(fp)
    features = doc.pop("features")
    head = json.dumps(doc, indent=1, ensure_ascii=False)
    lines = [json.dumps(f, separators=(",", ":"), ensure_ascii=False) for f in features]
    body = ",\n  ".join(lines)
    return head[:-2] + ',\n "features": [\n  ' + body + "\n ]\n}\n"


def write_floorplan(fp: Floorplan, path: str | Path) -> Path:
    """Write a plan as project GeoJSON (a folder gets floorplan.geojson); the file written."""
    p = Path(path)
    if p.is_dir():
        p = p / FLOORPLAN_FILE
    p.write_text(floorplan_json(fp), encoding="utf-8")
    return p
