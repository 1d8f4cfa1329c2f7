"""Verification begun while buildx finishes.

BuildKit's progress names the index it made ("exporting manifest list sha256:...") and
then its push ("pushing manifest for REPO", with "@sha256:..." on the docker driver); it
spends a while after that before buildx exits (it closes the build's record).
A one-node build's index is checked from that moment, in a thread; the run takes the
report once buildx has exited, for the digest its metadata file names, and only when it
found nothing wrong: anything else (another digest, a problem, an error, the registry's
too: it may have been a push attempt's that buildx-go then made again) is verified again
as before, after the build.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from buildx_go.verify.check import Report

_STATUS = r"(?:exporting manifest list (sha256:[0-9a-f]{64})|pushing manifest for [^\s\"@]+(?:@(sha256:[0-9a-f]{64}))?)"
# BuildKit's own lines only: plain (`#17 `) and a terminal's display (`=> => `) start them, a
# step's output is shown after its time (`#12 0.318 ...`); rawjson has them as status ids (a
# step's output is base64 there)
OWN = re.compile(r"^(?:#\d+ |\s*=> => )" + _STATUS)
RAWJSON = re.compile(r"\"id\":\s*\"" + _STATUS)
PARTIAL = 4096  # characters of an unfinished line kept for the next piece of output
POLL = 0.01  # seconds between looks for the index while its push finishes
LOOKS = 100  # at most this many: a push that takes longer is verified after the build
ATTEMPTS = 3  # indexes checked at most (a build pushed again: build_and_push's attempts)


class _Attempt:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: Report | None = None
        self.seconds = 0.0
        self.overlapped = False  # begun before buildx exited


class EarlyCheck:
    """CHECK(digest) run for each index digest the build's output names as pushed, once
    THERE(digest) says the registry has it; ``report`` hands over the result."""

    def __init__(self, check: Callable[[str], Report], there: Callable[[str], bool]) -> None:
        self._check, self._there = check, there
        self._partial = ""
        self._listed: str | None = None  # the last index digest the output named
        self._attempts: dict[str, _Attempt] = {}
        self._ended = threading.Event()
        self._lock = threading.Lock()

    def feed(self, text: str) -> None:
        """A piece of the build's output (lines, or a terminal's text without its codes)."""
        *lines, rest = (self._partial + text).split("\n")
        self._partial = rest[-PARTIAL:]
        for line in lines:
            rawjson = line.lstrip().startswith(("{", '"id"'))  # buildx's indented form, or compact
            found = RAWJSON.finditer(line) if rawjson else OWN.finditer(line)
            for match in found:
                listed, pushed = match.groups()
                if listed:
                    self._listed = listed
                elif digest := pushed or self._listed:
                    self._start(digest)

    def _start(self, digest: str) -> None:
        with self._lock:
            if digest in self._attempts or len(self._attempts) >= ATTEMPTS or self._ended.is_set():
                return
            attempt = self._attempts[digest] = _Attempt()
        threading.Thread(target=self._run, args=(digest, attempt), daemon=True).start()

    def _run(self, digest: str, attempt: _Attempt) -> None:
        try:
            for _ in range(LOOKS):
                ended = self._ended.is_set()
                if self._there(digest):
                    break
                if ended:
                    return  # not there after the build was over: verified after it, as usual
                time.sleep(POLL)
            else:
                return
            attempt.overlapped = not ended  # found while buildx was still running
            t0 = time.monotonic()
            attempt.report = self._check(digest)
            attempt.seconds = time.monotonic() - t0
        except Exception:  # verified again after the build, which says what went wrong
            attempt.report = None
        finally:
            attempt.done.set()

    def end(self) -> None:
        """The build is over: no check starts after this, and none waits for an index."""
        self._ended.set()

    def result(self, digest: str) -> Early | None:
        """After the build: DIGEST's check begun during it, when it found nothing wrong;
        None: verify as usual."""
        self.end()
        attempt = self._attempts.get(digest)
        if attempt is None:
            return None
        attempt.done.wait()
        if attempt.report is None or not attempt.report.ok:
            return None
        return Early(attempt.report, attempt.seconds, attempt.overlapped)


@attrs.frozen
class Early:
    """A check begun while buildx finished: its REPORT and the SECONDS it took."""

    report: Report
    seconds: float
    overlapped: bool  # the index found while buildx was still running

    def get(self) -> Report:
        return self.report
