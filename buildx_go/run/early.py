"""Verification begun while buildx finishes.

BuildKit's progress names the index it made ("exporting manifest list sha256:...") and
then its push ("pushing manifest for REPO", with "@sha256:..." on the docker driver); it
spends a while after that before buildx exits (it closes the build's record).
A one-node build's index is checked from that moment, in a thread; the run takes the
report once buildx has exited, for the digest its metadata file names, and only when it
found nothing wrong: anything else (another digest, an error, a problem) is verified
again as before, after the build.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildx_go.verify.check import Report

# BuildKit's own lines only, as plain (`#17 `), a terminal's display (`=> => `) and rawjson
# (`"id": "`) start them: a step's output is shown after its time (`#12 0.318 ...`)
_OWN = r"^(?:#\d+ |\s*=> => |\s*\"id\": \")"
LIST = re.compile(_OWN + r"exporting manifest list (sha256:[0-9a-f]{64})")
PUSHING = re.compile(_OWN + r"pushing manifest for [^\s\"@]+(?:@(sha256:[0-9a-f]{64}))?")
PARTIAL = 4096  # characters of an unfinished line kept for the next piece of output
POLL = 0.01  # seconds between looks for the index while its push finishes
LOOKS = 300  # at most this many: a push that takes longer is verified after the build


class _Attempt:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.report: Report | None = None
        self.seconds = 0.0


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
            if listed := LIST.match(line):
                self._listed = listed.group(1)
            elif pushing := PUSHING.match(line):
                digest = pushing.group(1) or self._listed
                if digest:
                    self._start(digest)

    def _start(self, digest: str) -> None:
        with self._lock:
            if digest in self._attempts or self._ended.is_set():
                return
            attempt = self._attempts[digest] = _Attempt()
        threading.Thread(target=self._run, args=(digest, attempt), daemon=True).start()

    def _run(self, digest: str, attempt: _Attempt) -> None:
        t0 = time.monotonic()
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
            attempt.report = self._check(digest)
        except Exception:  # verified again after the build, which says what went wrong
            attempt.report = None
        finally:
            attempt.seconds = time.monotonic() - t0
            attempt.done.set()

    def end(self) -> None:
        """The build is over: no check starts after this, and none waits for an index."""
        self._ended.set()

    def report(self, digest: str) -> tuple[Report, float] | None:
        """After the build: the report of DIGEST's check begun during it and the seconds it
        took, when it found nothing wrong; None: verify as usual."""
        self.end()
        attempt = self._attempts.get(digest)
        if attempt is None:
            return None
        attempt.done.wait()
        if attempt.report is None or not attempt.report.ok:
            return None
        return attempt.report, attempt.seconds
