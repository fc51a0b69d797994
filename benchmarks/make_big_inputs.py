"""Large inputs for the CSV-reading benchmark: readings.csv and points.csv of N rows.

    .venv/bin/python benchmarks/make_big_inputs.py readings --rows 50000000 \
        --from out/demo/readings.csv --out /tmp/readings_50m.csv
    .venv/bin/python benchmarks/make_big_inputs.py points --rows 50000000 --out /tmp/points_50m.csv

`readings` repeats a demo readings file end to end, each copy shifted later by the
file's time span (plus 60 s), so the stream stays time-ordered and every reading is
used, as in a longer recording. `points` draws level,x,y uniformly over the Northfield
campus. Both are written block by block (bounded memory) with pyarrow's CSV writer.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

BLOCK_ROWS = 1_000_000
# Ids hold no commas or quotes; the header is written plain by `_writer`.
PLAIN = pacsv.WriteOptions(quoting_style="none", include_header=False)


@contextlib.contextmanager
def _writer(out: Path, schema: pa.Schema) -> Iterator[pacsv.CSVWriter]:
    """A CSV writer whose header line is the plain column names."""
    with out.open("wb") as sink:
        sink.write((",".join(schema.names) + "\n").encode())
        with pacsv.CSVWriter(sink, schema, write_options=PLAIN) as writer:
            yield writer


def make_readings(source: Path, rows: int, out: Path) -> None:
    """`rows` readings from `source` repeated with shifted times."""
    table = pacsv.read_csv(source)
    t = table.column("t")
    span = pc.max(t).as_py() - pc.min(t).as_py() + 60.0
    written = 0
    with _writer(out, table.schema) as writer:
        copy = 0
        while written < rows:
            for start in range(0, table.num_rows, BLOCK_ROWS):
                n = min(BLOCK_ROWS, table.num_rows - start, rows - written)
                if n <= 0:
                    break
                part = table.slice(start, n)
                shifted = pc.add(part.column("t"), copy * span)
                writer.write_table(part.set_column(0, "t", shifted))
                written += n
            copy += 1


def make_points(rows: int, out: Path, seed: int = 1) -> None:
    """`rows` points uniform over Northfield (and its car park), both levels."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("level", pa.string()), ("x", pa.float64()), ("y", pa.float64())])
    with _writer(out, schema) as writer:
        for start in range(0, rows, BLOCK_ROWS):
            n = min(BLOCK_ROWS, rows - start)
            level = pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 2, n, dtype=np.int32)), pa.array(["L0", "L1"])
            ).cast(pa.string())
            x = np.round(rng.uniform(0, 220, n), 3)
            y = np.round(rng.uniform(0, 120, n), 3)
            writer.write_table(pa.table([level, pa.array(x), pa.array(y)], schema=schema))


def main() -> None:
    """Write the file the arguments ask for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["readings", "points"])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--from", dest="source", type=Path, help="readings.csv to repeat")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.kind == "readings":
        if args.source is None:
            parser.error("readings needs --from (a readings.csv to repeat)")
        make_readings(args.source, args.rows, args.out)
    else:
        make_points(args.rows, args.out)


if __name__ == "__main__":
    main()
