"""`sts loadtest` against a fresh `sts serve` on loopback, with a campus of N badges.

Run: .venv/bin/python benchmarks/serve_loadtest.py [--students 1000] [--duration 30]

The campus is Northfield's plan and rules with N consented badges (serve_load.make_campus);
the server runs with --tick 0.05 in its own process; `sts loadtest` prints the figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serve_load import make_campus  # noqa: E402
from tests.serve.live import ServerProcess, issue  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--duration", type=float, default=30.0)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sts-loadtest-"))
    campus = tmp / "campus"
    make_campus(campus, args.students)
    server = ServerProcess(tmp, site=campus, tick_s=0.05).start()
    try:
        gateway = issue(server.data, "gateway", "load")
        feed = issue(server.data, "safety", "bench")
        command = [sys.executable, "-m", "sts", "loadtest", "--url", server.ws_url]
        command += ["--site", str(campus), "--students", str(args.students)]
        command += ["--duration", str(args.duration), "--token", gateway, "--feed-token", feed]
        subprocess.run(command, cwd=ROOT, timeout=args.duration + 120, check=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
