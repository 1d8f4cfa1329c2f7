"""The console script: the early start (early.py) before anything heavy is imported."""

from __future__ import annotations

import os
import sys

from buildx_go import early, interrupt


def entry() -> None:
    """main(), after the early start; then exit without the interpreter's slow teardown
    (every result is written and flushed by then; daemon threads have nothing left to do)."""
    interrupt.install()
    early.begin(sys.argv[1:], os.environ)
    from buildx_go.cli import main

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
