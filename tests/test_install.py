"""An installed (non-editable) aptk finds its configs, suites and data: build the wheel, install
it into a scratch dir and compose an experiment from outside the checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_composes_from_package_data(tmp_path: Path) -> None:
    whl = tmp_path / "whl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(whl),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            *map(str, whl.glob("aptk-*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import aptk, sys\n"
        f"assert aptk.__file__.startswith({str(target)!r}), aptk.__file__\n"
        "from aptk.pipeline.config import compose_experiment\n"
        "e = compose_experiment('experiment=aligned', 'size=debug')\n"
        "from aptk.evals.importers import load_any\n"
        "print(e.arm.name, e.model.size, len(load_any(e.suite)))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["aligned", "debug", "312"]
