"""Scripts/bench is not a test; this smoke run keeps it from rotting."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, run

pytestmark = pytest.mark.integration


def test_bench_quick_runs_every_part(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = run([sys.executable, str(ROOT / "scripts" / "bench"), "--quick", "--no-setup", "--json", str(out)])
    assert "| variant | platforms | condition | median s |" in proc.stdout
    data = json.loads(out.read_text())
    measured = {(s["variant"], s["condition"]) for s in data["samples"]}
    for want in [
        ("floor", "change"),
        ("expert", "change"),
        ("bxg-auto", "change"),
        ("bxg-host", "change"),
        ("bxg-host", "ci"),
        ("overhead", "dry-run"),
        ("overhead", "first-call"),
    ]:
        assert want in measured, want
    assert all(s["seconds"] > 0 for s in data["samples"])
    qemu = next(t for t in data["targets"] if t["target"] == "no Go compile under QEMU in buildx-go")
    assert qemu["ok"] is True, qemu
