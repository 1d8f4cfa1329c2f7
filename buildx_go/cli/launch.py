"""The console scripts' start."""

from __future__ import annotations

import os
import sys

from buildx_go.engine import interrupt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def entry() -> None:
    """`buildx-go`."""
    run(sys.argv[1:], {})


def run(argv: Sequence[str], extra: Mapping[str, str]) -> None:
    """main(ARGV) with EXTRA added to the environment; then exit
    without the interpreter's slow teardown (every result is written and flushed by then;
    daemon threads have nothing left to do)."""
    interrupt.install()
    env = {**os.environ, **extra}
    from buildx_go.cli.main import main

    code = main(argv, env)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
