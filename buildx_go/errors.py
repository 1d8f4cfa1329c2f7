"""Every error buildx-go reports to users, each with its exit code and a hint.

A ``BuildxGoError`` reaching the CLI becomes ``ERROR <message>`` plus the hint on stderr
and the class's exit code; anything else is a bug and shows a traceback only with --debug.
"""

from __future__ import annotations


class BuildxGoError(Exception):
    """Base class: a known failure with a one-line message and what to do next."""

    exit_code = 1
    pulled: str | None = None  # the image a build could not pull, when that is the failure

    def __init__(self, message: str, hint: str | None = None, location: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location  # (file, line) the failure points at, when known (a Dockerfile line)


class InputError(BuildxGoError):
    """Bad input or configuration: a flag, a go.mod, a Dockerfile. Nothing was run."""

    exit_code = 2


class EngineError(BuildxGoError):
    """The environment cannot do the job: no engine, no buildx, no usable builder."""

    exit_code = 3


class BuildFailed(BuildxGoError):
    """A build command failed."""

    exit_code = 4


class RegistryError(BuildxGoError):
    """The registry refused, failed or could not be reached (reads and writes alike)."""

    exit_code = 5


class PushFailed(RegistryError):
    """Publishing to the registry failed."""


class VerificationFailed(BuildxGoError):
    """What the registry holds does not match what was planned."""

    exit_code = 6


class Interrupted(BuildxGoError):
    """The user interrupted the run."""

    exit_code = 130
