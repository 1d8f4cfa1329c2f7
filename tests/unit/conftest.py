"""Unit tests are pure: any attempt to start a process (docker, git, ...) fails the test."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest


class ProcessAttempted(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ProcessAttempted(f"unit test tried to run a process: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.fixture(autouse=True)
def fresh_structlog() -> Any:
    """cli.main() points structlog at the test's captured stderr: undo that after each test."""
    yield
    import structlog

    structlog.reset_defaults()
