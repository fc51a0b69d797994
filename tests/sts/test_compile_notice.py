"""The compile notice: one line before numba's first compilation, nothing when cached."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba import njit

from sts.compile_notice import (
    COLD_COMPILE_S,
    DEFAULT_COLD_COMPILE_S,
    compile_notice,
    notice_text,
)

ROOT = Path(__file__).resolve().parents[2]


def fresh_kernel():  # type: ignore[no-untyped-def]
    """A kernel numba has not compiled yet (a new dispatcher each call, no disk cache)."""

    @njit(cache=False)
    def twice(a):  # type: ignore[no-untyped-def]
        return a * 2

    return twice


def test_one_line_before_the_first_compilation_and_no_more() -> None:
    stream = io.StringIO()
    with compile_notice(stream, "locate") as notice:
        assert stream.getvalue() == ""  # nothing until numba compiles
        fresh_kernel()(np.arange(3))
        fresh_kernel()(np.arange(3.0))
    assert notice.said
    assert stream.getvalue() == notice_text(COLD_COMPILE_S["locate"]) + "\n"
    assert stream.getvalue().startswith("sts: compiling numba kernels for first use (about ")


def test_a_compiled_kernel_says_nothing() -> None:
    kernel = fresh_kernel()
    kernel(np.arange(3))
    stream = io.StringIO()
    with compile_notice(stream, "track") as notice:
        kernel(np.arange(4))
    assert not notice.said and stream.getvalue() == ""


def test_outside_the_block_nothing_is_said() -> None:
    stream = io.StringIO()
    with compile_notice(stream, None):
        pass
    fresh_kernel()(np.arange(3))
    assert stream.getvalue() == ""


SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from sts.compile_notice import compile_notice
with compile_notice(sys.stderr, "zones"):  # not listed: the default estimate
    import cached_kernel
    print(cached_kernel.add_one(41))
"""

KERNEL = """
from numba import njit

@njit(cache=True)
def add_one(x):
    return x + 1
"""


def test_a_cold_cache_is_announced_and_a_warm_one_is_not(tmp_path: Path) -> None:
    (tmp_path / "cached_kernel.py").write_text(KERNEL)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(here=str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
        )
        for _ in range(2)
    ]
    assert [r.stdout for r in runs] == ["42\n", "42\n"]
    assert runs[0].stderr == notice_text(DEFAULT_COLD_COMPILE_S) + "\n"
    assert runs[1].stderr == ""  # loaded from numba's cache: no compilation, no notice
