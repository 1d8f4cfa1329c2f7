"""Private Go modules through --secret. A module proxy on loopback that wants a
password (Basic auth over https, as Athens or a GitLab/Artifactory proxy would; go sends
netrc credentials over https only), its certificate from the team's own CA, which their Go
image trusts; the generated Dockerfile mounts the netrc secret for `go mod download`. The
password is found nowhere."""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, head_digest, run
from tests.integration.test_canary import pushed_blobs

pytestmark = pytest.mark.integration
PASSWORD = "pRiVaTe-9c2a71"
# a module path of its own per run: neither BuildKit's cache nor its module cache mount know it
MODULE = f"example.com/private/greet{uuid.uuid4().hex[:8]}"
GREET = 'package greet\n\n// Hello is what the private module says.\nfunc Hello() string { return "private hello" }\n'


def module_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{MODULE}@v1.0.0/go.mod", f"module {MODULE}\n\ngo 1.22\n")
        z.writestr(f"{MODULE}@v1.0.0/greet.go", GREET)
    return buf.getvalue()


@pytest.fixture
def tls(tmp_path: Path) -> dict[str, Path]:
    from tests.integration.lab import _tls_files

    work = tmp_path / "tls"
    work.mkdir()
    return _tls_files(work)


@pytest.fixture
def proxy(tls: dict[str, Path]) -> Iterator[str]:
    """A GOPROXY serving MODULE v1.0.0 to user `ci` with PASSWORD only."""
    files = {
        f"/{MODULE}/@v/list": b"v1.0.0\n",
        f"/{MODULE}/@v/v1.0.0.info": b'{"Version":"v1.0.0","Time":"2026-01-01T00:00:00Z"}',
        f"/{MODULE}/@v/v1.0.0.mod": f"module {MODULE}\n\ngo 1.22\n".encode(),
        f"/{MODULE}/@v/v1.0.0.zip": module_zip(),
    }
    expected = "Basic " + base64.b64encode(f"ci:{PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="modules"')
                self.end_headers()
                return
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *_: object) -> None:
            pass

    import ssl

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls["server-cert"], tls["server-key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def team_go_image(ca: Path, tmp_path: Path) -> str:
    """The lab's golang image trusting the team's CA (as a company's own Go image would):
    the Go stage runs on the build platform, so linux/amd64 is enough."""
    ctx = tmp_path / "goimage"
    ctx.mkdir()
    shutil.copy(ca, ctx / "team-ca.pem")
    (ctx / "Dockerfile").write_text(
        f"FROM {GO_IMAGE}\nCOPY team-ca.pem /etc/ssl/certs/team-ca.pem\nENV SSL_CERT_FILE=/etc/ssl/certs/team-ca.pem\n"
    )
    ref = f"localhost:5000/golang-teamca:{os.getpid()}"
    run(["docker", "buildx", "build", "--platform", "linux/amd64", "--tag", ref, "--push", str(ctx)])
    return ref


def project(tmp_path: Path, proxy: str, netrc: Path, ca: Path) -> Path:
    """A command using MODULE, its go.sum made by the host's go through the same proxy."""
    root = tmp_path / "app"
    root.mkdir()
    (root / "go.mod").write_text(f"module example.com/app\n\ngo 1.22\n\nrequire {MODULE} v1.0.0\n")
    (root / "main.go").write_text(
        f'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n\n\t"{MODULE}"\n)\n\n'
        'func main() { fmt.Printf("%s on %s/%s\\n", greet.Hello(), runtime.GOOS, runtime.GOARCH) }\n'
    )
    go = shutil.which("go") or str(Path(sys.executable).parent / "go")
    env = {**os.environ, "GOPROXY": proxy, "GONOSUMDB": "example.com", "NETRC": str(netrc), "GOFLAGS": "-mod=mod"}
    env |= {"GOMODCACHE": str(tmp_path / "modcache"), "GOTOOLCHAIN": "local", "SSL_CERT_FILE": str(ca)}
    tidy = subprocess.run([go, "mod", "tidy"], cwd=root, env=env, capture_output=True, text=True)
    assert tidy.returncode == 0, tidy.stderr
    return root


def test_a_private_module_through_a_netrc_secret(tmp_path: Path, tls: dict[str, Path], proxy: str, repo: str) -> None:
    netrc = tmp_path / "netrc"
    port = proxy.rsplit(":", 1)[1]
    netrc.write_text(f"machine 127.0.0.1:{port}\nlogin ci\npassword {PASSWORD}\n")
    netrc.chmod(0o600)
    root = project(tmp_path, proxy, netrc, tls["ca-cert"])
    go_image = team_go_image(tls["ca-cert"], tmp_path)
    # the proxy listens on the host's loopback: RUN steps reach it on the host network only
    common = ["--image", repo, "--go-image", go_image, "--base-image", BASE_IMAGE, "--push", "--network", "host"]
    args = ["--build-arg", f"GOPROXY={proxy}", "--build-arg", "GONOSUMDB=example.com"]
    # without the secret: the proxy says 401, and the error says what it is
    refused = buildx_go("build", str(root), *common, "--tag", "1.0.0", *args, check=False)
    assert refused.returncode == 4, refused.stderr[-2000:]
    first = next(line for line in refused.stderr.splitlines() if line.startswith("ERROR "))
    assert first.startswith("ERROR docker buildx build (build): modules could not be downloaded: ")
    assert "401" in first and head_digest(f"{repo}:1.0.0") is None
    # with it
    proc = buildx_go("build", str(root), *common, "--tag", "1.0.0", *args, "--secret", f"id=netrc,src={netrc}")
    for arch in ("amd64", "arm64"):
        out = run(["docker", "run", "--rm", "--network", "none", "--platform", f"linux/{arch}", f"{repo}:1.0.0"])
        assert out.stdout.strip() == f"private hello on linux/{arch}"
    plan = buildx_go("plan", str(root), *common, "--tag", "1.0.0", *args, "--secret", f"id=netrc,src={netrc}")
    # the password is nowhere: outputs, the plan, the workdirs, the pushed manifests and blobs
    secrets = [PASSWORD.encode(), base64.b64encode(f"ci:{PASSWORD}".encode())]
    said = (proc.stdout + proc.stderr + plan.stdout + plan.stderr + refused.stderr).encode()
    assert not [s for s in secrets if s in said]
    for blob in pushed_blobs(repo):
        assert not [s for s in secrets if s in blob]
        for unpack in (gzip.decompress, zstandard.ZstdDecompressor().decompressobj().decompress):
            with contextlib.suppress(OSError, EOFError, zstandard.ZstdError):
                assert not [s for s in secrets if s in unpack(blob)]
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("buildx-go-*") if p.is_dir()]
    for d in leftovers:
        for f in d.rglob("*"):
            if f.is_file() and f.stat().st_size < (8 << 20):
                assert not [s for s in secrets if s in f.read_bytes()], f
    assert ROOT.exists()
