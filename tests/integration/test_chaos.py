"""Scripts/chaos stays runnable: its smoke run (one fault per kind, both strategies) passes
every count that must be 0 (the full run, for the README's table, is run by hand)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


def test_the_chaos_smoke_run_counts_nothing_wrong() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos"), "--smoke"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rows = [
        line.split("|")
        for line in proc.stdout.splitlines()
        if line.startswith("| buildx") or line.startswith("| manifest")
    ]
    assert len(rows) == 7  # six registry faults (tag writes and blob checks among them), a helper that hangs
    for row in rows:
        runs, hit, wrong, broken, latest, left = (int(row[i]) for i in (3, 4, 7, 8, 9, 10))
        assert runs == hit == 1 and wrong == broken == latest == left == 0, row
