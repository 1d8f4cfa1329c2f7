"""Verification begun while buildx finishes (run/early.py): started by BuildKit's progress
as it pushes the index, handed over only for that digest and only when it passed."""

from __future__ import annotations

import threading
import time

import pytest

from buildx_go.engine.docker import error_block, lines_of
from buildx_go.errors import RegistryError
from buildx_go.run import early as early_module
from buildx_go.run.early import EarlyCheck
from buildx_go.verify.check import Report

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def report(digest: str, problems: tuple[str, ...] = ()) -> Report:
    return Report("r/app@" + digest, digest, "application/vnd.oci.image.index.v1+json", (), 2, problems)


def pushing(digest: str, name: str = "localhost:5000/app:buildx-go-staging") -> str:
    return f"#17 pushing manifest for {name}@{digest}\n"


class Calls:
    def __init__(self, problems: tuple[str, ...] = (), there_after: int = 0, fails: bool = False) -> None:
        self.checked: list[str] = []
        self.looks = 0
        self.problems, self.there_after, self.fails = problems, there_after, fails

    def check(self, digest: str) -> Report:
        self.checked.append(digest)
        if self.fails:
            raise OSError("connection reset")
        return report(digest, self.problems)

    def there(self, digest: str) -> bool:
        self.looks += 1
        return self.looks > self.there_after


def test_the_pushed_index_is_checked_once_and_handed_over_with_its_time() -> None:
    calls = Calls(there_after=2)  # the push is still under way for two looks
    early = EarlyCheck(calls.check, calls.there)
    early.feed("#17 exporting manifest list " + A + " done\n")
    early.feed(pushing(A))
    early.feed(pushing(A).replace("\n", " 0.0s done\n"))  # the same push, finished: not a second check
    for _ in range(500):  # the build runs on meanwhile
        if calls.checked:
            break
        time.sleep(0.01)
    got = early.result(A)
    assert got is not None
    assert got.get() == report(A) and got.seconds >= 0 and got.overlapped is True
    assert calls.checked == [A] and calls.looks == 3


def test_a_name_cut_across_two_pieces_of_output_is_read() -> None:
    """A terminal's output comes in chunks that do not end at lines."""
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    line = " => => pushing manifest for localhost:5000/app@" + A + " 0.0s\n"  # its codes taken out
    early.feed(line[:50])
    early.feed(line[50:])
    got = early.result(A)
    assert got is not None and got.get() == report(A)
    assert calls.checked == [A]


def test_only_the_digest_the_build_recorded_is_handed_over() -> None:
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    early.feed(pushing(B))
    assert early.result(A) is None  # another index (a node's, merged after): verified as usual
    assert early.result(B) is not None


def test_a_check_that_found_problems_or_failed_is_not_handed_over() -> None:
    for calls in (Calls(problems=("linux/arm64: binary is x86-64",)), Calls(fails=True)):
        early = EarlyCheck(calls.check, calls.there)
        early.feed(pushing(A))
        assert early.result(A) is None  # verified again after the build, which says what is wrong
        assert calls.checked == [A]


def test_a_registry_error_during_the_build_is_asked_again_after_it() -> None:
    """A push attempt that failed (the registry answering 500 under load) is made again: what
    the registry said to the early check may not hold for the build that succeeded."""

    def check(digest: str) -> Report:
        raise RegistryError("the registry localhost:5000 failed: HTTP 500 on GET app after 4 attempts")

    def there(digest: str) -> bool:
        raise RegistryError("the registry localhost:5000 failed: HTTP 500 on HEAD app after 4 attempts")

    for early in (EarlyCheck(check, lambda _: True), EarlyCheck(lambda d: report(d), there)):
        early.feed(pushing(A))
        time.sleep(0.02)
        assert early.result(A) is None  # verified after the build, as usual


def test_an_index_not_there_when_the_build_ends_is_left_to_the_check_after_it() -> None:
    calls = Calls(there_after=10**9)
    early = EarlyCheck(calls.check, calls.there)
    early.feed(pushing(A))
    time.sleep(0.05)
    t0 = time.monotonic()
    assert early.result(A) is None
    assert time.monotonic() - t0 < 1 and calls.checked == []


def test_nothing_starts_after_the_build_ends() -> None:
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    early.end()
    early.feed(pushing(A))
    assert early.result(A) is None and calls.checked == []


def test_the_check_runs_beside_the_build_not_after_it() -> None:
    started = threading.Event()
    release = threading.Event()

    def check(digest: str) -> Report:
        started.set()
        release.wait(5)
        return report(digest)

    early = EarlyCheck(check, lambda _: True)
    early.feed(pushing(A))
    assert started.wait(5)  # while the build (this thread) still runs
    release.set()
    assert early.result(A) is not None


def test_an_index_there_by_the_time_the_build_ends_is_still_checked() -> None:
    checked: list[str] = []
    early: EarlyCheck

    def check(digest: str) -> Report:
        checked.append(digest)
        return report(digest)

    early = EarlyCheck(check, lambda _: early._ended.is_set())  # stored just as buildx exits
    early.feed(pushing(A))
    time.sleep(0.03)
    assert early.result(A) is not None and checked == [A]


def wait_checked(calls: Calls) -> None:
    for _ in range(500):
        if calls.checked:
            return
        time.sleep(0.01)


def test_a_push_by_digest_is_named_by_the_index_exported_before_it() -> None:
    """BuildKit's own output, a docker-container builder pushing untagged: the push line
    has no digest, the manifest list line before it does."""
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    early.feed("#17 exporting manifest " + B + " done\n")
    early.feed("#17 exporting manifest list " + A + " done\n")
    early.feed("#17 pushing layers 0.1s done\n")
    early.feed("#17 pushing manifest for localhost:5000/app\n")
    wait_checked(calls)
    assert early.result(A) is not None and calls.checked == [A]


@pytest.mark.parametrize(
    "pieces",
    [
        # buildx's indented rawjson
        [
            '      "id": "exporting manifest list ' + A + '",\n',
            '      "id": "pushing manifest for localhost:5000/app",\n',
        ],
        # BuildKit's compact rawjson: one object a line, no spaces
        [
            '{"statuses":[{"id":"exporting manifest list ' + A + '","vertex":"sha256:1"},',
            '{"id":"pushing manifest for localhost:5000/app","vertex":"sha256:1"}]}\n',
        ],
    ],
)
def test_rawjson_progress_is_read_too(pieces: list[str]) -> None:
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    for piece in pieces:
        early.feed(piece)
    wait_checked(calls)
    assert calls.checked == [A]


def test_a_digest_cut_short_by_a_narrow_terminal_starts_nothing() -> None:
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    early.feed("=> => exporting manifest list " + A[:30] + "…\n")
    early.feed("=> => pushing manifest for localhost:5000/app:buildx-go-staging@" + A[:20] + "…\n")
    assert early.result(A) is None and calls.checked == []


def test_a_step_printing_the_same_words_starts_nothing() -> None:
    """A RUN's output is shown after its time: it cannot pass for BuildKit's own line."""
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    early.feed("#12 0.318 exporting manifest list " + A + " done\n")
    early.feed("#12 0.319 pushing manifest for localhost:5000/app@" + A + "\n")
    early.feed("#12 0.320 #17 pushing manifest for localhost:5000/app@" + A + "\n")
    assert early.result(A) is None and calls.checked == [] and calls.looks == 0


def test_an_index_that_never_comes_is_looked_for_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early_module, "LOOKS", 3)
    calls = Calls(there_after=10**9)
    early = EarlyCheck(calls.check, calls.there)
    early.feed(pushing(A))
    time.sleep(0.2)
    assert calls.looks == 3
    assert early.result(A) is None and calls.checked == []


def test_checks_started_are_bounded() -> None:
    calls = Calls(there_after=10**9)
    early = EarlyCheck(calls.check, calls.there)
    for n in range(20):
        early.feed(pushing(f"sha256:{n:064x}"))
    assert len(early._attempts) == early_module.ATTEMPTS
    early.end()


def test_a_carriage_return_a_step_printed_stays_in_its_line() -> None:
    """BuildKit keeps a step's \\r inside its line (`#6 0.146 10%\\r...`): it cannot start
    a line of BuildKit's own."""
    import io

    class Pipe:
        def __init__(self) -> None:
            forged = b"#6 0.146 10%\r#17 pushing manifest for r/app@" + A.encode()
            self.buffer = io.BytesIO(forged + b"\n#7 DONE \xe9\n")

    assert list(lines_of(Pipe())) == [f"#6 0.146 10%\r#17 pushing manifest for r/app@{A}\n", "#7 DONE \ufffd\n"]
    calls = Calls()
    early = EarlyCheck(calls.check, calls.there)
    for line in lines_of(Pipe()):
        early.feed(line)
    assert early.result(A) is None and calls.looks == 0


def test_a_failed_build_read_quietly_shows_what_quiet_shows() -> None:
    progress = (
        "#14 [build 6/6] RUN go build\n#14 0.249 main.go:3: undefined: x\n#14 ERROR: exit code: 1\n"
        "------\n > [build 6/6] RUN go build:\n0.249 main.go:3: undefined: x\n------\n"
        "ERROR: failed to solve: exit code: 1\n"
    )
    assert error_block(progress).startswith("------\n > [build 6/6]")
    assert error_block(progress).endswith("ERROR: failed to solve: exit code: 1\n")
    forged = "#8 0.1 progress 10%\rERROR: forged\n#8 0.2 10\u2028------\n" + progress
    assert error_block(forged) == error_block(progress)  # a step's line is one line, whatever it holds
