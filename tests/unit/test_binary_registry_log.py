from __future__ import annotations

import http.server
import io
import json
import struct
import threading

import pytest

from buildx_go.engine.failures import classify
from buildx_go.errors import BuildFailed, EngineError, InputError, PushFailed
from buildx_go.log import _redact_event, redact_argv
from buildx_go.platforms import Platform, entry_platform
from buildx_go.project.gitinfo import git_facts, strip_credentials, version_from_describe
from buildx_go.refs import Reference
from buildx_go.registry.client import RegistryClient
from buildx_go.verify.binary import BUILDINFO_MAGIC, BinaryFacts, binary_problems
from tests.unit.planning import git_question


def fake_elf(bits: int, machine: int, flags: int = 0, settings: dict[str, str] | None = None) -> bytes:
    head = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1, 1]) + bytes(9)
    head += struct.pack("<HHI", 2, machine, 1)
    head = head.ljust(36 if bits == 32 else 48, b"\0") + struct.pack("<I", flags)
    head = head.ljust(64, b"\0")
    if settings is None:
        return head
    modinfo = "".join(f"build\t{k}={v}\n" for k, v in settings.items())
    info = BUILDINFO_MAGIC + bytes([8, 2]) + bytes(16)
    version = b"go1.27.3"
    info += bytes([len(version)]) + version + bytes([len(modinfo)]) + modinfo.encode()
    return head + info


def test_elf_and_buildinfo_facts() -> None:
    f = BinaryFacts.from_bytes(fake_elf(64, 183, settings={"GOOS": "linux", "GOARCH": "arm64"}))
    assert f is not None
    assert (f.bits, f.machine, f.go_version, f.go_settings["GOARCH"]) == (64, 183, "go1.27.3", "arm64")
    assert binary_problems(Platform.parse("linux/arm64"), f) == []
    assert (
        "expected aarch64 64-bit"
        in binary_problems(Platform.parse("linux/arm64"), BinaryFacts.from_bytes(fake_elf(64, 62)))[0]
    )


def test_arm_v7_needs_eabi5_hard_float_and_goarm7() -> None:
    good = BinaryFacts.from_bytes(fake_elf(32, 40, 0x05000402, {"GOARCH": "arm", "GOARM": "7"}))
    assert binary_problems(Platform.parse("linux/arm/v7"), good) == []
    # Go leaves EF_ARM_ABI_FLOAT_HARD unset (e_flags 0x5000002): GOARM=7 in its build info says hard-float.
    go_v7 = BinaryFacts.from_bytes(fake_elf(32, 40, 0x05000002, {"GOARCH": "arm", "GOARM": "7"}))
    assert go_v7 is not None and go_v7.hard_float and "EABI5 hard-float" in go_v7.describe()
    assert binary_problems(Platform.parse("linux/arm/v7"), go_v7) == []
    # GOARM=5 (soft float) and 6 run on ARMv7: lower levels pass, a higher one does not
    soft = BinaryFacts.from_bytes(fake_elf(32, 40, 0x05000002, {"GOARCH": "arm", "GOARM": "5"}))
    assert binary_problems(Platform.parse("linux/arm/v7"), soft) == []
    v7_on_v6 = binary_problems(Platform.parse("linux/arm/v6"), go_v7)
    assert v7_on_v6 == ["Go build info says GOARM=7, expected 6 or lower"]
    soft_c = BinaryFacts.from_bytes(fake_elf(32, 40, 0x05000002))  # a soft-float C program: armhf cannot load it
    assert any("not hard-float" in p for p in binary_problems(Platform.parse("linux/arm/v7"), soft_c, True))
    not_eabi5 = BinaryFacts.from_bytes(fake_elf(32, 40, 0x04000402))
    assert any("not EABI5" in p for p in binary_problems(Platform.parse("linux/arm/v7"), not_eabi5))
    assert binary_problems(Platform.parse("linux/arm/v7"), None)[0].startswith("not an ELF binary")


def test_reference_parsing() -> None:
    assert Reference.parse("localhost:5000/hello:1.0") == Reference("localhost:5000", "hello", "1.0")
    assert Reference.parse("localhost:5000/hello").tag == "latest"
    assert Reference.parse("alpine") == Reference("docker.io", "library/alpine", "latest")
    # Docker Hub as docker names it: its legacy host and its official images' library/ prefix
    for hub in ("alpine", "docker.io/alpine", "index.docker.io/alpine", "index.docker.io/library/alpine"):
        assert Reference.parse(hub + ":3") == Reference("docker.io", "library/alpine", "3"), hub
    assert Reference.parse("index.docker.io/team/app") == Reference("docker.io", "team/app", "latest")
    assert Reference.parse("registry-1.docker.io/app:1") == Reference("registry-1.docker.io", "app", "1")
    # a first component docker reads as a path (it is no host name) and pushes to as a host
    assert Reference.parse("ex_ample.com/x:1") == Reference("ex_ample.com", "x", "1")
    for refused in ("Ex_ample.com/x:1", "ex_ample.com:5000/x:1"):
        with pytest.raises(InputError):
            Reference.parse(refused)
    r = Reference.parse("ghcr.io/o/app@sha256:" + "a" * 64)
    assert (r.registry, r.repository, r.tag, r.digest) == ("ghcr.io", "o/app", None, "sha256:" + "a" * 64)
    assert Reference.parse("127.0.0.1:5000/x:1").is_loopback and not r.is_loopback
    # docker's insecure range for this host: 127.0.0.0/8 and ::1 however written (plain http)
    for here in ("127.0.0.2:5000/x", "[0:0:0:0:0:0:0:1]:5000/x", "[0:0:0:0:0:0:0:1]/x", "[::1]/x", "localhost/x"):
        assert Reference.parse(here).is_loopback, here
    for away in ("127.1:5000/x", "[::2]:5000/x", "128.0.0.1/x", "localhost.example.com/x", "127.0.0.1.nip.io/x"):
        assert not Reference.parse(away).is_loopback, away


def test_index_entries_skip_attestations() -> None:
    assert entry_platform({"platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}) == "linux/arm/v7"
    assert entry_platform({"platform": {"os": "unknown", "architecture": "unknown"}}) is None
    assert (
        entry_platform(
            {
                "platform": {"os": "linux", "architecture": "amd64"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            }
        )
        is None
    )


def test_secrets_never_logged() -> None:
    argv = ["docker", "login", "--password", "hunter2", "--build-arg", "API_TOKEN=abc", "--secret", "id=x"]
    assert redact_argv(argv) == [
        "docker",
        "login",
        "--password",
        "***",
        "--build-arg",
        "API_TOKEN=***",
        "--secret",
        "***",
    ]
    assert strip_credentials("https://user:tok@github.com/o/r.git") == "https://github.com/o/r.git"
    assert _redact_event(None, "info", {"registry_password": "p", "argv": ["--token", "t"]}) == {
        "registry_password": "***",
        "argv": ["--token", "***"],
    }


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock", EngineError),
        ("ERROR: failed to push localhost:5000/x:1: unexpected status from PUT request", PushFailed),
        ('ERROR: failed to solve: process "/bin/sh -c go build" did not complete successfully', BuildFailed),
        # the docker CLI and the classic engine's pushes (found with tests/faultproxy.py)
        ("received unexpected HTTP status: 500 Internal Server Error", PushFailed),
        ("failed to put manifest localhost:5000/x:1: received unexpected HTTP status: 503", PushFailed),
        ("toomanyrequests: You have reached your pull rate limit", PushFailed),
        ('Put "http://localhost:5001/v2/app/manifests/1.0.0-arm64": EOF', PushFailed),
        (
            'Post "http://localhost:5001/v2/app/blobs/uploads/": read tcp 127.0.0.1:1->127.0.0.1:2: connection reset',
            PushFailed,
        ),
        ("ERROR: failed to solve: write /var/lib/docker/tmp/x: no space left on device", EngineError),
    ],
)
def test_failures_are_classified(stderr: str, kind: type) -> None:
    err = classify(["docker", "buildx", "build"], 1, stderr, "build")
    assert isinstance(err, kind)
    assert err.message.startswith("docker buildx build")


def test_git_versions() -> None:
    assert version_from_describe("v1.2.3") == "1.2.3"
    assert version_from_describe("v1.2.3-4-gabc") == "1.2.3-4-gabc"
    answers = {
        "rev-parse --is-inside-work-tree": "true",
        "rev-parse HEAD": "abc",
        "describe --tags": "v2.0.0",
        "remote get-url origin": "https://u:p@example.com/r.git",
    }

    def git(argv: list[str], cwd: object, timeout: float) -> tuple[int, str, str]:
        out = answers.get(" ".join(git_question(argv)))
        return (0, out + "\n", "") if out is not None else (128, "", "fatal: no")

    facts = git_facts(__import__("pathlib").Path("/x"), git)  # type: ignore[arg-type]
    assert facts["version"] == "2.0.0" and facts["source"] == "https://example.com/r.git" and "created" not in facts


def test_questions_git_did_not_answer_are_named() -> None:
    from buildx_go.config import resolve
    from buildx_go.planning.decide import image_refs

    def slow_describe(argv: list[str], cwd: object, timeout: float) -> tuple[int, str, str] | None:
        if git_question(argv)[:2] == ["describe", "--tags"]:
            return None  # did not finish within the timeout
        return (0, "true\n", "") if git_question(argv) == ["rev-parse", "--is-inside-work-tree"] else (0, "x\n", "")

    facts = git_facts(__import__("pathlib").Path("/x"), slow_describe)  # type: ignore[arg-type]
    assert facts["unanswered"] == "describe" and "version" not in facts and facts["revision"] == "x"
    no_git = git_facts(__import__("pathlib").Path("/x"), lambda *_: None)  # type: ignore[arg-type,return-value]
    assert no_git == {"unanswered": "rev-parse"}
    not_a_repo = git_facts(__import__("pathlib").Path("/x"), lambda *_: (128, "", "fatal"))  # type: ignore[arg-type,return-value]
    assert not_a_repo == {}
    settings = resolve({"image": "r.example/app"}, {}, {})
    slow = r"none could be derived \(git could not run, or did not finish within 10 s\)$"
    with pytest.raises(InputError, match=slow):
        image_refs(settings, None, facts)
    with pytest.raises(InputError, match=r"none could be derived$"):
        image_refs(settings, None, not_a_repo)


class TagDeletingRegistry(http.server.BaseHTTPRequestHandler):
    """A registry that deletes tags (OCI distribution 1.1 allows it), with bearer auth."""

    deleted: list[str] = []  # noqa: RUF012

    def do_DELETE(self) -> None:
        if self.headers.get("Authorization") != "Bearer t0k":
            self.send_response(401)
            realm = f"http://{self.headers['Host']}/token"
            self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="reg"')
            self.end_headers()
            return
        if self.path.endswith("/manifests/1.0.0-amd64"):
            self.deleted.append(self.path)
            self.send_response(202)
        else:
            self.send_response(400)
        self.end_headers()

    def do_GET(self) -> None:
        assert "scope=repository%3Ateam%2Fapp%3Adelete" in self.path, self.path
        body = json.dumps({"token": "t0k"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_delete_tag_asks_for_delete_scope_and_reports_refusals() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), TagDeletingRegistry)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_port}"
        client = RegistryClient({"HOME": "/nonexistent"})
        assert client.delete_tag(Reference.parse(f"{host}/team/app:1.0.0-amd64")) is None
        assert TagDeletingRegistry.deleted == ["/v2/team/app/manifests/1.0.0-amd64"]
        why = client.delete_tag(Reference.parse(f"{host}/team/app:1.0.0-arm64"))
        assert why == "the registry refused (HTTP 400)"
    finally:
        server.shutdown()


def test_deferred_events_keep_their_order_and_time_and_held_loggers_still_work() -> None:
    import io

    from buildx_go import log

    out = io.StringIO()
    log.configure("json", stream=out, defer=True)
    held = log.get_logger()
    held.info("first", n=1)
    assert out.getvalue() == ""  # nothing printed before activation
    log.activate()
    held.info("second", n=2)  # a logger taken before activation keeps working
    log.get_logger().warning("third", token="s3cret")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["first", "second", "third"]
    assert events[0]["timestamp"] <= events[1]["timestamp"] <= events[2]["timestamp"]
    assert events[2]["token"] == "***"  # redaction applies to buffered and live events alike


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("env", "first"),
    [
        ({}, "{"),  # a pipe, no CI: JSON for the machine reading it
        ({"CI": "true"}, "project"),  # any CI's log: text
        ({"CI": "woodpecker"}, "project"),
        ({"CI": "false"}, "{"),
        ({"CI": "0"}, "{"),
        ({"GITHUB_ACTIONS": "true"}, "project"),
        ({"GITLAB_CI": "true"}, "project"),
    ],
)
def test_auto_log_format_is_text_in_any_ci_log_and_json_on_a_plain_pipe(env: dict[str, str], first: str) -> None:
    from buildx_go import log

    out = _Pipe()
    log.configure("auto", stream=out, env=env)
    log.get_logger().info("project.detected", module="example.com/m", go="1.22", mains=["."])
    assert out.getvalue().startswith(first), out.getvalue()


def test_an_elf_object_file_or_core_dump_is_no_program() -> None:
    """The kernel starts ET_EXEC and ET_DYN files; an object file (gcc -c) or a core dump
    with an execute bit fails with exec format error."""
    amd64 = Platform.parse("linux/amd64")
    go = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64"})
    assert binary_problems(amd64, BinaryFacts.from_bytes(go)) == []
    for etype, what in ((1, "a relocatable object file"), (4, "a core dump"), (0, "no program")):
        data = go[:16] + struct.pack("<H", etype) + go[18:]
        facts = BinaryFacts.from_bytes(data)
        assert facts is not None and facts.etype == etype
        (problem,) = binary_problems(amd64, facts, allow_non_go=True)
        assert problem.startswith(f"the ELF file is {what}") and "exec format error" in problem
