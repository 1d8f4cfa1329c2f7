"""The program an image starts, found in its layers as runc and the kernel find it."""

from __future__ import annotations

from typing import Any

import pytest

from buildx_go.verify.check import member_bytes
from buildx_go.verify.entrypoint import Program, find_program, shell_command
from buildx_go.verify.imagefs import Found, Tree, clean
from buildx_go.verify.layers import layer_facts
from tests.fakeregistry import entry_tar
from tests.unit.test_binary_registry_log import fake_elf

ARM64 = fake_elf(64, 183, settings={"GOOS": "linux", "GOARCH": "arm64"})
AMD64 = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64"})
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\nadm:x:4:nonroot\n"
Entry = tuple[str, str, "bytes | str", int, int]


def f(name: str, data: bytes | str = ARM64, mode: int = 0o755, uid: int = 0) -> Entry:
    return (name, "file", data, mode, uid)


def d(name: str, mode: int = 0o755, uid: int = 0) -> Entry:
    return (name, "dir", b"", mode, uid)


def ln(name: str, target: str) -> Entry:
    return (name, "symlink", target, 0o777, 0)


BASE: list[Entry] = [
    d("etc"),
    f("etc/passwd", PASSWD, 0o644),
    f("etc/group", GROUP, 0o644),
    d("usr"),
    d("usr/bin"),
    d("usr/local"),
    d("usr/local/bin"),
    d("usr/local/sbin"),
    f("usr/bin/busybox"),
    ln("bin", "usr/bin"),
    ln("usr/bin/sh", "busybox"),
]


class Image:
    """Layers (bottom first) as tars, read the way verify reads them."""

    def __init__(self, *layers: list[Entry]) -> None:
        self.blobs = [entry_tar(layer) for layer in layers]
        listings = [layer_facts(b).listing for b in self.blobs]
        assert all(x is not None for x in listings)
        self.tree = Tree([x for x in listings if x is not None])

    def read(self, found: Found, limit: int | None) -> bytes:
        layer, path = self.tree.content_of(found)
        return member_bytes(self.blobs[layer], path, limit)

    def program(self, **config: Any) -> Program:
        return find_program(self.tree, {"config": config}, self.read)


def checked(program: Program) -> str | None:
    assert not program.problems, program.problems
    return f"/{program.binary.path}" if program.binary else None


def test_a_bare_name_is_looked_up_in_every_path_directory_in_order() -> None:
    image = Image(BASE, [f("usr/bin/app")])
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert checked(image.program(Entrypoint=["app", "--flag"], Env=[path])) == "/usr/bin/app"
    assert checked(image.program(Cmd=["app"])) == "/usr/bin/app"  # no PATH: docker's default
    # the first directory holding an executable wins; a non-executable one is passed over
    shadow = Image(BASE, [f("usr/bin/app"), f("usr/local/bin/app", mode=0o644)])
    assert checked(shadow.program(Entrypoint=["app"], Env=[path])) == "/usr/bin/app"
    first = Image(BASE, [f("usr/bin/app"), f("usr/local/bin/app")])
    assert checked(first.program(Entrypoint=["app"], Env=[path])) == "/usr/local/bin/app"


def test_a_missing_program_names_every_path_directory_searched() -> None:
    program = Image(BASE).program(Entrypoint=["app"], Env=["PATH=/usr/local/bin:/usr/bin:/bin"])
    assert program.problems == (
        "entrypoint app: not an executable file in any PATH directory (/usr/local/bin, /usr/bin, /bin)",
    )


def test_relative_paths_start_at_the_working_directory_and_dotdot_stays_in_the_root() -> None:
    image = Image(BASE, [d("srv"), f("srv/server")])
    assert checked(image.program(Entrypoint=["./server"], WorkingDir="/srv")) == "/srv/server"
    assert checked(image.program(Entrypoint=["../../../srv/server"], WorkingDir="/srv")) == "/srv/server"
    # runc looks a bare name up with Go's exec.LookPath: what a relative PATH entry finds is refused
    relative = image.program(Entrypoint=["server"], WorkingDir="/srv", Env=["PATH=/usr/bin:."])
    assert relative.problems == (
        "entrypoint server: found as ./server through the relative PATH entry '.': runc refuses a program "
        "found relative to the current directory",
    )
    assert image.program(Entrypoint=["./server"]).problems  # from / there is none


def test_symlinks_are_followed_on_every_component_and_across_layers() -> None:
    links = [ln("usr/local/bin/app", "/opt/app-1.2"), ln("app", "opt/app-1.2")]
    image = Image(BASE, [d("opt"), f("opt/app-1.2")], links)
    assert checked(image.program(Entrypoint=["/usr/local/bin/app"])) == "/opt/app-1.2"
    assert checked(image.program(Entrypoint=["/bin/busybox"])) == "/usr/bin/busybox"  # /bin -> usr/bin
    assert checked(image.program(Entrypoint=["/app"])) == "/opt/app-1.2"
    loop = Image(BASE, [ln("a", "b"), ln("b", "a")])
    assert "too many levels of symbolic links" in loop.program(Entrypoint=["/a"]).problems[0]
    dangling = Image(BASE, [ln("app", "/nowhere/app")])
    assert "/nowhere: no such file or directory" in dangling.program(Entrypoint=["/app"]).problems[0]


def test_tar_names_are_cleaned_as_the_applier_cleans_them() -> None:
    image = Image(BASE, [f("./usr/local/bin/../bin/app"), f("../../escape")])
    assert checked(image.program(Entrypoint=["/usr/local/bin/app"])) == "/usr/local/bin/app"
    assert checked(image.program(Entrypoint=["/escape"])) == "/escape"
    assert clean("/a/./b/../../../c/") == "c" and clean(".") == ""


def test_whiteouts_and_opaque_directories_delete_what_lies_below() -> None:
    deleted = Image(BASE, [f("usr/local/bin/app")], [f("usr/local/bin/.wh.app", b"")])
    assert deleted.program(Entrypoint=["/usr/local/bin/app"]).problems
    opaque = Image(BASE, [f("usr/local/bin/app")], [d("usr/local/bin"), f("usr/local/bin/.wh..wh..opq", b"")])
    assert opaque.program(Entrypoint=["/usr/local/bin/app"]).problems
    replaced = Image(BASE, [f("usr/local/bin/app")], [f("usr/local/bin/.wh.app", b""), f("usr/local/bin/app")])
    assert checked(replaced.program(Entrypoint=["/usr/local/bin/app"])) == "/usr/local/bin/app"


def test_modes_and_users_decide_as_the_engine_does() -> None:
    """Docker's and containerd's default capabilities include CAP_DAC_OVERRIDE: any execute
    bit lets the program start, whoever USER is; one its USER may not run by its mode is a
    warning (it fails where those capabilities are dropped). A USER name no /etc/passwd
    holds stops the engine."""
    image = Image(BASE, [f("app", mode=0o644), f("mine", mode=0o700, uid=65532), f("root-only", mode=0o700)])
    assert image.program(Entrypoint=["/app"]).problems == ("entrypoint /app: /app is not executable (mode 0644)",)
    assert checked(image.program(Entrypoint=["/root-only"])) == "/root-only"
    assert checked(image.program(Entrypoint=["/mine"], User="nonroot")) == "/mine"
    assert image.program(Entrypoint=["/mine"], User="nonroot").warnings == ()
    fragile = image.program(Entrypoint=["/root-only"], User="65532:65532")
    assert checked(fragile) == "/root-only"
    assert fragile.warnings[0].startswith(
        "/root-only (mode 0700, owner 0) is not executable by USER 65532:65532 itself"
    )
    assert "no user 'nobody'" in image.program(Entrypoint=["/mine"], User="nobody").problems[0]
    assert "no group 'wheel'" in image.program(Entrypoint=["/mine"], User="nonroot:wheel").problems[0]
    assert checked(image.program(Entrypoint=["/mine"], User="65532")) == "/mine"  # numeric: as is
    locked = Image(BASE, [d("private", mode=0o700), f("private/app")])
    assert checked(locked.program(Entrypoint=["/private/app"], User="nonroot")) == "/private/app"


def test_etc_passwd_is_read_as_runc_reads_it_whatever_its_mode_or_link() -> None:
    """runc opens /etc/passwd inside the image, symlinks followed, and reads it whatever its
    mode (0755 from a Windows build context)."""
    executable = Image(BASE, [f("etc/passwd", PASSWD + "app:x:1000:1000::/:/bin/sh\n", 0o755), f("mine")])
    assert checked(executable.program(Entrypoint=["/mine"], User="app")) == "/mine"
    linked = Image(
        BASE,
        [f("etc/passwd.real", PASSWD + "app:x:1000:1000::/:/bin/sh\n", 0o644), ln("etc/passwd", "passwd.real")],
        [f("mine")],
    )
    assert checked(linked.program(Entrypoint=["/mine"], User="app")) == "/mine"
    assert "no user 'other'" in linked.program(Entrypoint=["/mine"], User="other").problems[0]
    dangling = Image(BASE, [ln("etc/passwd", "/nowhere/passwd"), f("mine")])
    assert "no user 'app'" in dangling.program(Entrypoint=["/mine"], User="app").problems[0]


def test_a_script_its_user_cannot_read_does_not_start() -> None:
    """runc execs a script with the engine's capabilities, but its interpreter then runs as
    USER without them and must open the script: read bit, and every folder searchable."""
    script = b"#!/bin/sh\nexec /usr/local/bin/app\n"
    image = Image(
        BASE,
        [d("app"), f("app/open.sh", script, 0o755), f("app/private.sh", script, 0o700), f("usr/local/bin/app")],
        [d("locked", mode=0o700), f("locked/run.sh", script, 0o755), d("mine", 0o700, uid=65532)],
        [f("mine/run.sh", script, 0o700, uid=65532)],
    )
    assert image.program(Entrypoint=["/app/open.sh"], User="nonroot").problems == ()
    assert image.program(Entrypoint=["/app/private.sh"]).problems == ()  # root
    (problem,) = image.program(Entrypoint=["/app/private.sh"], User="nonroot").problems
    assert problem.startswith("/app/private.sh (mode 0700, owner 0) is not readable by USER nonroot")
    (problem,) = image.program(Entrypoint=["/locked/run.sh"], User="65532").problems
    assert problem.startswith("/locked (mode 0700, owner 0) is not searchable by USER 65532")
    assert image.program(Entrypoint=["/mine/run.sh"], User="nonroot").problems == ()


def test_hard_links_take_their_targets_content_and_mode() -> None:
    image = Image(BASE, [f("usr/local/bin/app-1"), ("usr/local/bin/app", "hardlink", "usr/local/bin/app-1", 0o644, 0)])
    program = image.program(Entrypoint=["app"])
    assert checked(program) == "/usr/local/bin/app"
    assert program.binary is not None and image.read(program.binary, None) == ARM64


def test_wrappers_and_shells_are_seen_through() -> None:
    image = Image(BASE, [f("usr/bin/tini"), f("usr/bin/dumb-init"), f("usr/local/bin/app"), f("usr/bin/env")])
    assert checked(image.program(Entrypoint=["/usr/bin/tini", "--", "app", "serve"])) == "/usr/local/bin/app"
    assert checked(image.program(Entrypoint=["tini", "-s", "-p", "SIGTERM", "app"])) == "/usr/local/bin/app"
    assert checked(image.program(Entrypoint=["dumb-init", "--rewrite", "15:2"], Cmd=["app"])) == "/usr/local/bin/app"
    assert checked(image.program(Entrypoint=["/bin/sh", "-c", "exec app --port=$PORT"])) == "/usr/local/bin/app"
    assert checked(image.program(Entrypoint=["env", "GODEBUG=x=1", "app"])) == "/usr/local/bin/app"
    steps = image.program(Entrypoint=["tini", "--"], Cmd=["/bin/sh", "-c", "app"]).describe()
    assert steps == "tini (/usr/bin/tini) -> /bin/sh (/usr/bin/busybox) -> app (/usr/local/bin/app)"
    complex_ = image.program(Entrypoint=["/bin/sh", "-c", "cd /srv && ./app"])
    assert complex_.binary is None and not complex_.problems and complex_.note == "sh: its command line is not read"
    missing = image.program(Entrypoint=["/bin/sh", "-c", "nothere"])
    assert missing.problems[0].startswith("the command /bin/sh starts nothere: not an executable file in any PATH")
    assert Image([f("app")]).program(Entrypoint=["/bin/sh", "-c", "/app"]).problems  # no shell: no start


def test_scripts_run_their_interpreter_and_exec_their_arguments() -> None:
    script = b'#!/bin/sh\nset -e\nexec "$@"\n'
    image = Image(BASE, [f("entrypoint.sh", script), f("usr/local/bin/app"), f("own.sh", b"#!/bin/sh\n/app\n")])
    assert checked(image.program(Entrypoint=["/entrypoint.sh"], Cmd=["app"])) == "/usr/local/bin/app"
    argument = image.program(Entrypoint=["/entrypoint.sh"], Cmd=["--help"])
    assert argument.binary is None and not argument.problems
    own = image.program(Entrypoint=["/own.sh"])
    assert own.binary is None and not own.problems and "is a script" in str(own.note)
    no_shell = Image([f("entrypoint.sh", b"#!/bin/bash\nexec app\n")])
    assert (
        "its interpreter /bin/bash: /bin: no such file or directory"
        in no_shell.program(Entrypoint=["/entrypoint.sh"]).problems[0]
    )
    crlf = Image(BASE, [f("run.sh", b"#!/bin/sh\r\nexec app\r\n")])
    assert crlf.program(Entrypoint=["/run.sh"]).problems  # "/bin/sh\r" is no file: the kernel agrees
    text = Image(BASE, [f("data", b"plain text, executable")])
    assert "neither an ELF executable nor a #! script" in text.program(Entrypoint=["/data"]).problems[0]


def test_no_entrypoint_and_no_command_starts_nothing() -> None:
    assert Image(BASE).program().problems == ("the image has no entrypoint or command: the engine starts nothing",)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-c", "app"], ["app"]),
        (["-ec", "exec /app serve"], ["/app", "serve"]),
        (["-c", "FOO=1 app --x"], ["app", "--x"]),
        (["-c", "app; echo done"], None),  # two commands, no exec: which one is the program is not told
        (["-c", "mkdir -p /tmp/data && exec app"], ["app"]),
        (["-c", "set -e\nexec app --port 1"], ["app", "--port", "1"]),
        (["-c", "exec >/tmp/log 2>&1; exec app"], ["app"]),
        (["-c", "exec -a myapp app"], ["app"]),
        (["-c", "time app"], ["app"]),
        (["-c", "time -p app"], ["app"]),
        (["-c", "command app"], ["app"]),
        (["-c", "command -v app"], None),
        (["-c", "app > /tmp/log 2>&1"], ["app"]),
        (["-c", "cd /x && app"], None),
        (["-c", "cd x && exec app"], None),
        (["-c", "(app)"], None),
        (["-c", "if true; then exec app; fi"], None),
        (["-c", ". /env && exec app"], None),
        (["-c", "$APP"], None),
        (["-c", "'unbalanced"], None),
        (["script.sh"], None),
        (["-c"], None),
        # SHELL ["/bin/bash", "-o", "pipefail", "-c"] (hadolint's advice) and its shorter forms
        (["-o", "pipefail", "-c", "/app serve"], ["/app", "serve"]),
        (["-eo", "pipefail", "-c", "app"], ["app"]),
        (["-euxo", "pipefail", "-c", "app"], ["app"]),
        (["-O", "extglob", "+o", "posix", "-c", "app"], ["app"]),
        (["--norc", "-c", "app"], ["app"]),
        (["-c", "--", "app"], ["app"]),
        (["-o", "pipefail", "script.sh"], None),
        (["-e", "script.sh"], None),
    ],
)
def test_shell_command_lines(args: list[str], words: list[str] | None) -> None:
    started = shell_command(args)
    assert (started.words if started else None) == words


def test_a_shell_follows_cd_and_path_before_its_program() -> None:
    started = shell_command(["-c", "cd /srv && exec ./app"], "/usr/bin", "")
    assert started is not None and (started.words, started.cwd) == (["./app"], "srv")
    prefixed = shell_command(["-c", "PATH=/opt/tools:$PATH runner"], "/usr/bin", "")
    assert prefixed is not None and prefixed.search == "/opt/tools:/usr/bin"
    exported = shell_command(["-c", "export PATH=/opt/tools:${PATH}; exec runner"], "/bin", "")
    assert exported is not None and exported.search == "/opt/tools:/bin"
    assert shell_command(["-c", "PATH=$HOME/bin:$PATH runner"], "/bin", "") is None


def test_a_shell_alone_is_the_program() -> None:
    program = Image(BASE).program(Cmd=["sh"])
    assert checked(program) == "/usr/bin/busybox" and program.describe() == "sh (/usr/bin/busybox)"


DEBIAN_LIKE = [*BASE, f("usr/bin/env"), f("usr/bin/bash"), f("usr/bin/nice"), f("usr/bin/mkdir")]


def test_env_that_clears_path_looks_up_in_the_c_librarys_default_path() -> None:
    """`env -i` and `env -u PATH` leave execvp no PATH: glibc searches /bin:/usr/bin only."""
    image = Image(DEBIAN_LIKE, [f("usr/local/bin/hello"), f("usr/bin/tool")])
    for entry in (["env", "-i", "hello"], ["env", "-u", "PATH", "hello"], ["env", "--unset=PATH", "hello"]):
        program = image.program(Entrypoint=entry)
        assert program.binary is None and not program.problems, entry
        assert program.note == f"{entry[0]} clears PATH: hello is found by musl's default path, not glibc's"
    assert checked(image.program(Entrypoint=["env", "-i", "tool"])) == "/usr/bin/tool"
    assert checked(image.program(Entrypoint=["env", "-i", "PATH=/usr/local/bin", "hello"])) == "/usr/local/bin/hello"
    gone = Image(DEBIAN_LIKE, [d("opt"), f("opt/hello")]).program(Entrypoint=["env", "-i", "hello"])
    assert gone.problems == (
        "the command env starts hello: not an executable file in any PATH directory (/bin, /usr/bin)",
    )


def test_env_in_a_shebang_and_a_shells_path_assignment_use_the_images_path() -> None:
    script = f("start", b"#!/usr/bin/env runner\n")
    image = Image(DEBIAN_LIKE, [d("opt"), d("opt/tools"), f("opt/tools/runner"), script])
    path = "PATH=/opt/tools:/usr/local/bin:/usr/bin:/bin"
    program = image.program(Entrypoint=["/start"], Env=[path])
    assert not program.problems and program.describe().endswith("runner (/opt/tools/runner)")
    assert checked(image.program(Entrypoint=["/bin/sh", "-c", "PATH=/opt/tools:$PATH runner"])) == "/opt/tools/runner"


def test_a_file_without_a_shebang_runs_as_a_shell_script_only_when_a_shell_starts_it() -> None:
    image = Image(DEBIAN_LIKE, [f("start.sh", b"exec /usr/local/bin/hello from-start\n"), f("usr/local/bin/hello")])
    by_shell = image.program(Entrypoint=["/bin/sh", "-c", "/start.sh"])
    assert not by_shell.problems and "is run by the shell as a shell script" in str(by_shell.note)
    by_env = image.program(Entrypoint=["env", "MODE=prod", "/start.sh"])
    assert not by_env.problems and "depends on its C library" in str(by_env.note)
    by_runc = image.program(Entrypoint=["/start.sh"])
    assert "neither an ELF executable nor a #! script" in by_runc.problems[0]


def test_paths_runc_refuses() -> None:
    image = Image(BASE, [d("app"), d("app/bin"), f("app/bin/hello"), f("usr/local/bin/hello")])
    relative = image.program(Entrypoint=["hello"], WorkingDir="/app", Env=["PATH=bin:/usr/local/bin"])
    assert "runc refuses a program found relative to the current directory" in relative.problems[0]
    # an absolute directory earlier in PATH is found first: no refusal
    assert checked(image.program(Entrypoint=["hello"], WorkingDir="/app", Env=["PATH=/usr/local/bin:bin"])) == (
        "/usr/local/bin/hello"
    )
    slash = image.program(Entrypoint=["/usr/local/bin/hello/"])
    assert slash.problems == ("entrypoint /usr/local/bin/hello/: /usr/local/bin/hello is not a directory",)
    empty = image.program(Entrypoint=["hello"], WorkingDir="/usr/local/bin", Env=["PATH="])
    assert empty.problems == ("entrypoint hello: PATH is empty, no directory is searched",)


def test_a_hard_link_to_a_symlink_is_that_symlink() -> None:
    layer = [f("usr/local/bin/hello"), ln("usr/local/bin/h1", "/usr/local/bin/hello")]
    layer.append(("usr/local/bin/server", "hardlink", "usr/local/bin/h1", 0o777, 0))
    assert checked(Image(BASE, layer).program(Entrypoint=["server"])) == "/usr/local/bin/hello"


def test_more_wrappers_and_shell_forms_are_seen_through() -> None:
    image = Image(DEBIAN_LIKE, [f("usr/local/bin/hello")])
    for entry in (
        ["nice", "-n", "5", "hello"],
        ["nice", "-5", "hello"],
        ["/bin/bash", "-c", "exec -a myapp hello"],
        ["/bin/bash", "-c", "time hello"],
        ["/bin/sh", "-c", "mkdir -p /tmp/data && exec hello"],
    ):
        assert checked(image.program(Entrypoint=entry)) == "/usr/local/bin/hello", entry
