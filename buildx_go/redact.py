"""What may be shown of a command line or a text: secrets masked (pure).

Build-arg values are shown as KEY=*** unless their name is public (VERSION, Go's module
settings, --public-build-arg), and credentials in any URL, Authorization value or
token=/password= pair are masked wherever buildx-go prints or logs a value.
"""

from __future__ import annotations

import re

SECRET_HINTS = ("password", "token", "secret", "auth", "credential")
PUBLIC_BUILD_ARGS = frozenset({"VERSION", "SOURCE_DATE_EPOCH"})  # shown as they are (buildx-go passes them)
_URL_USER = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_TOKEN_VALUE = re.compile(r"(?i)((?:token|password|passwd|secret|auth)[\w-]*[=:]\s*)[^\s&'\"]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def redact_text(text: str) -> str:
    """TEXT with credentials in URLs (scheme://user:token@), Authorization values and
    token=... / password=... values masked."""
    text = _URL_USER.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1 ***", text)
    return _TOKEN_VALUE.sub(r"\1***", text)


def redact_argv(argv: list[str] | tuple[str, ...], public: frozenset[str] | None = PUBLIC_BUILD_ARGS) -> list[str]:
    """ARGV as it may be shown: every --build-arg value masked (KEY=***) but those named
    PUBLIC (none masked for None: ARGV was planned so already), the values of secret-looking
    options and KEY=VALUE pairs masked, and any credentials in a URL."""
    out: list[str] = []
    hide_next = False
    build_arg = False
    for arg in argv:
        low = arg.lower()
        if hide_next:
            out.append("***")
            hide_next = False
        elif (build_arg and public is not None and "=" in arg and arg.split("=", 1)[0] not in public) or (
            "=" in arg and any(h in low.split("=", 1)[0] for h in SECRET_HINTS)
        ):
            out.append(arg.split("=", 1)[0] + "=***")
        elif arg.startswith("-") and any(h in low for h in SECRET_HINTS):
            out.append(arg)
            hide_next = True
        else:
            out.append(redact_text(arg))
        build_arg = arg == "--build-arg"
    return out
