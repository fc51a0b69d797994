"""A simulated run (`sts simulate --out DIR`) as a survey: DIR/readings.csv and
DIR/truth.csv (t,tag,x,y,level at every reading's time), for `sts calibrate` and
`sts accuracy` on the simulated campus (floorplan: DIR/floorplan.geojson).

    .venv/bin/python benchmarks/sim_survey_csv.py DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.feed import Readings  # noqa: E402
from sts.floorplan_io import load_floorplan  # noqa: E402
from sts.sim_folder import FeedReader, read_truth  # noqa: E402


def main(folder: Path) -> int:
    """Write the two CSV files."""
    floorplan = load_floorplan(folder / "floorplan.geojson").floorplan
    reader_ids = [r.id for r in floorplan.readers]
    level_ids = [lv.id for lv in floorplan.levels]
    segments = read_truth(folder / "truth")
    with open(folder / "readings.csv", "w") as r_out, open(folder / "truth.csv", "w") as t_out:
        r_out.write("t,tag,reader,rssi\n")
        t_out.write("t,tag,x,y,level\n")
        for item in FeedReader(folder / "recording").items():
            if not isinstance(item, Readings) or len(item.batch) == 0:
                continue
            b = item.batch
            x, y, level, _ = segments.at(b.tag, b.t)
            for i in range(len(b)):
                tag = item.tag_ids[b.tag[i]]
                r_out.write(f"{b.t[i]:.3f},{tag},{reader_ids[b.reader[i]]},{b.rssi[i]:g}\n")
                if level[i] >= 0 and np.isfinite(x[i]):
                    t_out.write(f"{b.t[i]:.3f},{tag},{x[i]:.3f},{y[i]:.3f},{level_ids[level[i]]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
