"""Registries as users have them. A login that lives only in a credential helper,
htpasswd (Basic) and token (Bearer) registries, media types engines can pull, verify before
any tag, SemVer tags, a registry cache for fresh CI runners, no-op rebuilds."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.fakeregistry import compress, tar_of
from tests.integration.conftest import BASE_IMAGE, FIXTURES, GO_IMAGE, ROOT, buildx_go, events, run
from tests.integration.lab import AuthRegistry, RemoteBuilder, TokenRegistry, credential_helper, free_port

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"
GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
USER, PASSWORD = "ci-bot", "Canary-pw-7f3a91"  # the canary: found nowhere but the helper's store
TOKEN_USER, TOKEN_PASSWORD = "tok-bot", "Canary-tok-c02e5d"
ACCEPT = (
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
)


@attrs.frozen
class Lab:
    auth: AuthRegistry
    token: TokenRegistry
    env: dict[str, str]  # DOCKER_CONFIG (credsStore) and PATH (the helper)
    helper_store: Path
    work: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("registries")
    auth = AuthRegistry(work / "auth", USER, PASSWORD)
    token = TokenRegistry(work / "token", TOKEN_USER, TOKEN_PASSWORD)
    store = work / "helper-store.json"
    credential_helper(work / "bin", store, {auth.host: (USER, PASSWORD), token.host: (TOKEN_USER, TOKEN_PASSWORD)})
    config = work / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credsStore": "bxgtest"}))  # as Docker Desktop writes it
    env = {"DOCKER_CONFIG": str(config), "PATH": f"{work / 'bin'}:{os.environ['PATH']}"}
    try:
        yield Lab(auth, token, env, store, work)
    finally:
        auth.stop()
        token.stop()


@pytest.fixture(scope="module")
def remote(lab: Lab) -> Iterator[str]:
    """A buildx remote-driver builder (buildkitd v0.32.2 on loopback): it pushes by digest."""
    builder = RemoteBuilder(
        lab.work / "remote", "bxg-it-remote", lab.env, ["localhost:5000", lab.auth.host, lab.token.host]
    )
    try:
        yield builder.name
    finally:
        builder.stop()


def head(ref: str, env: dict[str, str] | None = None) -> str | None:
    """The digest REF (repo:tag, or repo:sha256:...) resolves to on a plain-http registry
    without auth, None if absent."""
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.partition(":")
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", method="HEAD", headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(req) as resp:
            return str(resp.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def canaries() -> list[bytes]:
    pair = f"{USER}:{PASSWORD}".encode()
    return [PASSWORD.encode(), base64.b64encode(pair), base64.b64encode(PASSWORD.encode()).rstrip(b"=")]


def files_holding(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


def test_a_login_in_a_credential_helper_pushes_moves_latest_verifies_and_leaks_nowhere(
    lab: Lab, tmp_path: Path
) -> None:
    image = f"{lab.auth.host}/team/hello"
    private = {
        **lab.env,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TMPDIR": str(tmp_path / "tmp"),
        "BUILDX_GO_WORKDIR": str(tmp_path / "work"),  # kept after the run: searched below
    }
    (tmp_path / "tmp").mkdir()
    args = ("--image", image, "--tag", "1.0.0", "--push", "--latest", *GENERATED, "--progress", "plain")
    plan = buildx_go("plan", str(HELLO), *args, "--format", "json", env=private)
    build = buildx_go("build", str(HELLO), *args, "--output-format", "json", env=private)
    summary = json.loads(build.stdout)
    assert summary["verified"] is True and summary["moved_tags"] == ["latest"]
    check = buildx_go("verify", f"{image}:latest", "--format", "json", env=private)
    assert json.loads(check.stdout)["ok"] is True
    # the fallback too: per-platform pushes, then docker manifest in the run's own docker config
    fallback = buildx_go("build", str(HELLO), *args[:3], "1.0.1", *args[4:], "--strategy", "manifest", env=private)
    assert json.loads(buildx_go("verify", f"{image}:1.0.1", "--format", "json", env=private).stdout)["ok"]
    # The registry really wants the login: without it the same read is exit 5.
    anonymous = buildx_go("verify", f"{image}:latest", env={"DOCKER_CONFIG": str(tmp_path / "none")}, check=False)
    assert anonymous.returncode == 5
    assert f"ERROR not logged in to {lab.auth.host} (docker login {lab.auth.host})" in anonymous.stderr
    # The canary: in no output, log, plan, temporary or cached file, docker config, or pushed blob.
    texts = [plan.stdout, plan.stderr, build.stdout, build.stderr, check.stdout, check.stderr, fallback.stderr]
    assert not [n for t in texts for n in canaries() if n.decode() in t]
    searched = [tmp_path, Path(lab.env["DOCKER_CONFIG"]), lab.auth.storage]
    assert not [hit for root in searched for hit in files_holding(root, canaries())]
    assert lab.helper_store.read_bytes().count(PASSWORD.encode()) == 1  # where it lives, and only there


def test_a_refused_login_is_exit_5_with_the_docker_login_hint(lab: Lab, tmp_path: Path) -> None:
    store = tmp_path / "store.json"
    bin_dir = tmp_path / "bin"
    credential_helper(bin_dir, store, {lab.auth.host: (USER, "not-the-password")})
    wrong = {**lab.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    image = f"{lab.auth.host}/team/hello"
    verify = buildx_go("verify", f"{image}:1.0.0", env=wrong, check=False)
    assert verify.returncode == 5
    first = verify.stderr.split("ERROR ", 1)[1].splitlines()[0]
    assert first.startswith(f"not logged in to {lab.auth.host} (docker login {lab.auth.host}): ")
    assert "credential helper 'bxgtest' was refused" in first
    build = buildx_go(
        "build", str(HELLO), "--image", image, "--tag", "9.9.9", "--push", *GENERATED, env=wrong, check=False
    )
    assert build.returncode == 5
    assert f"ERROR not logged in to {lab.auth.host} (docker login {lab.auth.host})" in build.stderr
    assert "not-the-password" not in build.stderr + verify.stderr


def test_what_the_registry_would_refuse_after_the_build_is_found_before_it(lab: Lab, tmp_path: Path) -> None:
    """With --push the registry is asked first (a blob upload started, then cancelled): a
    registry that is down, a wrong password, a credential helper that is not there and an
    account that may only pull each end in exit 5 within 3 s, and no build was started."""
    store, bin_dir = tmp_path / "store.json", tmp_path / "bin"
    credential_helper(bin_dir, store, {lab.auth.host: (USER, "not-the-password")})
    missing = tmp_path / "missing-helper"
    missing.mkdir()
    (missing / "config.json").write_text(json.dumps({"credHelpers": {lab.auth.host: "nosuchhelper"}}))
    down = f"localhost:{free_port()}"
    cases = [
        (f"{down}/team/hello", lab.env, f"{down}: cannot reach the registry"),
        (f"{lab.auth.host}/team/hello", {**lab.env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, "not logged in"),
        (f"{lab.auth.host}/team/hello", {**lab.env, "DOCKER_CONFIG": str(missing)}, "docker-credential-nosuchhelper"),
        (f"{lab.token.host}/team/readonly", lab.env, "may not push to team/readonly; HTTP 401"),
    ]
    lab.token.tokens.read_only = True
    try:
        for image, env, said in cases:
            argv = ["build", str(HELLO), "--image", image, "--tag", "9.9.8", "--push", *GENERATED, "--rebuild"]
            started = time.monotonic()
            proc = buildx_go(*argv, "--log-format", "json", env=env, check=False)
            seconds = time.monotonic() - started
            assert proc.returncode == 5, (image, proc.stderr[-1500:])
            assert said in proc.stderr, (image, proc.stderr[-1500:])
            assert seconds < 3, (image, seconds)
            assert not [e for e in events(proc.stderr) if e["event"] == "command.start" and e["purpose"] == "build"]
    finally:
        lab.token.tokens.read_only = False


def test_a_go_image_older_than_go_mod_is_found_before_the_build(tmp_path: Path, repo: str) -> None:
    """go.mod asks for a newer Go than --go-image has (its GOLANG_VERSION, GOTOOLCHAIN=local,
    as the official images set): exit 2 within 3 s, naming both, no build started."""
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    (project / "go.mod").write_text("module example.com/hello\n\ngo 1.28\n")
    argv = ["build", str(project), "--image", repo, "--tag", "1.0.0", "--push", *GENERATED]
    started = time.monotonic()
    proc = buildx_go(*argv, "--log-format", "json", check=False)
    seconds = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert f"ERROR --go-image {GO_IMAGE}: its Go is 1.27.3 (GOTOOLCHAIN=local" in proc.stderr
    assert "go.mod needs go >= 1.28" in proc.stderr and seconds < 3, seconds
    assert not [e for e in events(proc.stderr) if e["event"] == "command.start"]


def test_a_token_auth_registry_is_pushed_to_and_verified(lab: Lab) -> None:
    image = f"{lab.token.host}/team/hello"
    buildx_go("build", str(HELLO), "--image", image, "--tag", "2.0.0", "--push", *GENERATED, env=lab.env)
    before = len(lab.token.tokens.requests)
    report = json.loads(buildx_go("verify", f"{image}:2.0.0", "--format", "json", env=lab.env).stdout)
    assert report["ok"] is True
    mine = lab.token.tokens.requests[before:]  # buildx-go's own token requests (verify)
    assert mine and all(r["scope"] == "repository:team/hello:pull" for r in mine)


def test_the_manifest_strategy_pushes_images_engines_pull_and_run(repo: str) -> None:
    buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "3.0.0",
        "--push",
        "--strategy",
        "manifest",
        *GENERATED,
        "--version-var",
        "main.version",
    )
    for ref, platforms in (
        (f"{repo}:3.0.0", ("linux/amd64", "linux/arm64")),
        (f"{repo}:3.0.0-arm64", ("linux/arm64",)),
        (f"{repo}:3.0.0-amd64", ("linux/amd64",)),
    ):
        for platform in platforms:
            run(["docker", "pull", "-q", "--platform", platform, ref])
            out = run(["docker", "run", "--rm", "--network", "none", "--platform", platform, ref]).stdout
            assert out.startswith(f"hello from {platform} (version 3.0.0"), (ref, out)
    arm = json.loads(_get(f"{repo}:3.0.0-arm64"))
    assert arm["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert arm["layers"][-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"


def _get(ref: str) -> bytes:
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req) as resp:
        return bytes(resp.read())


def _push_blob(host: str, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{host}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(start) as resp:
        location = resp.headers["Location"]
    sep = "&" if "?" in location else "?"
    url = urllib.parse.urljoin(f"http://{host}/", location) + f"{sep}digest={digest}"
    headers = {"Content-Type": "application/octet-stream"}  # not a form: the registry would read it as one
    urllib.request.urlopen(urllib.request.Request(url, method="PUT", data=data, headers=headers))
    return digest


def test_a_zstd_layer_in_a_docker_v2_manifest_is_exit_6_naming_the_layer(repo: str) -> None:
    host, _, name = repo.partition("/")
    raw = tar_of({"app": (FIXTURES / "liar" / "main.go").read_bytes()})
    layer = compress(raw, "zstd")
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/app"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": _push_blob(host, name, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.zstd",
                "digest": _push_blob(host, name, layer),
                "size": len(layer),
            }
        ],
    }
    body = json.dumps(manifest).encode()
    put = urllib.request.Request(
        f"http://{host}/v2/{name}/manifests/zstd-v2",
        method="PUT",
        data=body,
        headers={"Content-Type": manifest["mediaType"]},
    )
    urllib.request.urlopen(put)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests": [
                {
                    "mediaType": manifest["mediaType"],
                    "digest": digest,
                    "size": len(body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    put = urllib.request.Request(
        f"http://{host}/v2/{name}/manifests/bad",
        method="PUT",
        data=index,
        headers={"Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json"},
    )
    urllib.request.urlopen(put)
    proc = buildx_go("verify", f"{repo}:bad", "--platform", "linux/amd64", check=False)
    assert proc.returncode == 6
    assert re.search(
        r"linux/amd64: layer 1 \(sha256:[0-9a-f]{64}\): media type application/vnd\.docker\.image\.rootfs\.diff\.tar"
        r"\.zstd is not allowed in a Docker v2 manifest",
        proc.stderr,
    )


def test_on_the_docker_driver_a_failed_verification_leaves_the_version_tag_where_it_was(repo: str) -> None:
    """The docker driver cannot push by digest: buildx-go pushes IMAGE:buildx-go-staging and
    tags only a verified index. The version tag stays absent, then on its previous digest."""
    liar = ("build", str(FIXTURES / "liar"), "--image", repo, "--tag", "1.0.0", "--push", "--latest")
    proc = buildx_go(*liar, check=False)
    assert proc.returncode == 6
    first = proc.stderr.split("ERROR ", 1)[1].splitlines()[0]
    assert (
        f"failed verification; no tag was written ({repo}:1.0.0 untouched; it stays under {repo}:buildx-go-staging)"
        in first
    )
    assert "linux/arm64: binary is ELF 64-bit LSB x86-64" in first
    assert head(f"{repo}:1.0.0") is None and head(f"{repo}:latest") is None
    assert head(f"{repo}:buildx-go-staging") is not None
    good = buildx_go("build", str(HELLO), "--image", repo, "--tag", "1.0.0", "--push", "--latest", *GENERATED)
    digest = good.stdout.split("@", 1)[1].split()[0]
    assert head(f"{repo}:1.0.0") == digest == head(f"{repo}:latest")
    assert buildx_go(*liar, check=False).returncode == 6
    assert head(f"{repo}:1.0.0") == digest == head(f"{repo}:latest")  # still the verified image


def test_a_builder_that_pushes_by_digest_leaves_no_tag_on_a_failed_verification(
    lab: Lab, remote: str, repo: str
) -> None:
    proc = buildx_go(
        "build",
        str(FIXTURES / "liar"),
        "--image",
        repo,
        "--tag",
        "1.0.0",
        "--push",
        "--latest",
        "--builder",
        remote,
        env=lab.env,
        check=False,
    )
    assert proc.returncode == 6
    first = proc.stderr.split("ERROR ", 1)[1].splitlines()[0]
    assert first.startswith(f"{repo}@sha256:") and f"no tag was written ({repo}:1.0.0 untouched)" in first
    assert head(f"{repo}:1.0.0") is None and head(f"{repo}:latest") is None
    pushed = next(e for e in events(proc.stderr) if e["event"] == "image.pushed")
    assert head(f"{repo}:{pushed['digest']}") == pushed["digest"]  # it is there, by digest only


def test_a_builder_that_pushes_by_digest_tags_after_verifying(remote: str, lab: Lab) -> None:
    image = f"{lab.auth.host}/team/remote"
    proc = buildx_go(
        "build",
        str(HELLO),
        "--image",
        image,
        "--tag",
        "1.2.3",
        "--push",
        "--latest",
        "--builder",
        remote,
        *GENERATED,
        env=lab.env,
    )
    order = [e["event"] for e in events(proc.stderr)]
    assert order.index("verify.ok") < order.index("tags.published") < order.index("tags.moved")
    assert next(e for e in events(proc.stderr) if e["event"] == "verify.ok")["overlapped"] is True  # one node
    (start,) = [e for e in events(proc.stderr) if e["event"] == "command.start"]  # the build alone
    assert "--tag" not in start["argv"]  # type: ignore[operator]
    written = [(e["purpose"], e["refs"]) for e in events(proc.stderr) if e["event"] == "tags.written"]
    assert written == [(f"publish {image}:1.2.3", [f"{image}:1.2.3"]), ("promote latest", [f"{image}:latest"])]
    assert json.loads(buildx_go("verify", f"{image}:latest", "--format", "json", env=lab.env).stdout)["ok"]


def test_a_fresh_runner_starts_warm_from_the_registry_cache(lab: Lab, repo: str, tmp_path: Path) -> None:
    """Two CI runs, each on a new runner: a BuildKit with an empty state directory (the same
    BuildKit version: cache keys are not shared across versions, e.g. the engine's 0.13 and
    buildkitd 0.32). The first exports REPO:buildcache, the second starts from it. The second
    asks for --rebuild: without it the tag's recorded inputs match and nothing is built at all
    (test_uptodate.py), which is the commoner CI re-run."""
    args = ("--image", repo, "--tag", "4.0.0", "--push", *GENERATED, "--cache", "registry", "--progress", "plain")
    runs = []
    for n in (1, 2):
        runner = RemoteBuilder(
            tmp_path / f"r{n}", f"bxg-it-ci{n}", lab.env, ["localhost:5000"], state=tmp_path / f"s{n}"
        )
        try:
            again = ("--rebuild",) if n == 2 else ()
            runs.append(buildx_go("build", str(HELLO), *args, *again, "--builder", runner.name, env=lab.env))
        finally:
            runner.stop()
        assert head(f"{repo}:buildcache") is not None
    proc = runs[1]
    assert f"importing cache manifest from {repo}:buildcache" in proc.stderr
    # No Go step ran on the fresh runner: the final stages' COPY of the binaries came from the
    # registry cache (CACHED), so BuildKit never ran what made them (a step that runs says DONE).
    go_steps = set(re.findall(r"^#(\d+) \[[^\]]*\] RUN .*go (?:build|mod download)", proc.stderr, re.M))
    copies = set(re.findall(r"^#(\d+) \[linux/[^\]]* stage-1 2/2\] COPY --from=build", proc.stderr, re.M))
    assert len(go_steps) == 3 and len(copies) == 2  # go mod download, go build per platform; a COPY each
    assert not [n for n in go_steps if re.search(rf"^#{n} DONE", proc.stderr, re.M)]
    # Each COPY of a binary completed (CACHED, or its layer fetched from the registry cache: how
    # BuildKit 0.32 shows it varies) while no Go step ran: the binaries came from the cache.
    for n in copies:
        assert re.search(rf"^#{n} (CACHED|DONE [0-9.]+s)$", proc.stderr, re.M), n


def test_a_no_op_rebuild_reads_nothing_it_verified_before(repo: str) -> None:
    args = ("--image", repo, "--tag", "5.0.0", "--push", *GENERATED)
    buildx_go("build", str(HELLO), *args)
    # Built again (else nothing is built at all: test_uptodate.py): a new index (new
    # provenance) of the same two images, which verification does not read again.
    again = buildx_go("build", str(HELLO), *args, "--rebuild")
    assert any(e["event"] == "command.start" and e["purpose"] == "build" for e in events(again.stderr))
    ok = next(e for e in events(again.stderr) if e["event"] == "verify.ok")
    assert ok["cached"] == 2


def test_semver_prerelease_tags_move_nothing(repo: str) -> None:
    args = ("--image", repo, "--push", "--latest", "--floating", *GENERATED, "--output-format", "json")
    first = json.loads(buildx_go("build", str(HELLO), "--tag", "1.2.3", *args).stdout)
    pre = json.loads(buildx_go("build", str(HELLO), "--tag", "1.2.4-1", *args, "--version-var", "main.v").stdout)
    assert first["moved_tags"] == ["1", "1.2", "latest"] and pre["moved_tags"] == []
    assert head(f"{repo}:latest") == first["digest"]
