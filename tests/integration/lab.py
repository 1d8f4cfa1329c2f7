"""The registries and builders users have, made on loopback for the integration tests.

* ``AuthRegistry``: distribution (Debian's docker-registry) with htpasswd Basic auth.
* ``TokenRegistry``: distribution with token auth, and a small token server in front of it
  (realm/service/scope, JWTs signed by a key whose certificate the registry trusts).
* ``credential_helper``: a ``docker-credential-bxgtest`` on PATH speaking the helper protocol
  (get/store/erase/list), its store outside everything buildx-go writes.
* ``RemoteBuilder``: buildkitd (../shared/tools/buildkit, v0.32.2) on loopback as a buildx
  remote-driver builder: a builder whose BuildKit pushes by digest.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import ipaddress
import json
import lzma
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).parents[2]
TOOLS = ROOT.parent / "shared" / "tools" / "buildkit"
CACHE = Path(os.environ.get("BUILDX_GO_CACHE", "/var/cache/buildx-go"))
HELPER = "bxgtest"


def wait_http(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 is an answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Process:
    def __init__(self, argv: Sequence[str], log: Path) -> None:
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(list(argv), stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self._out.close()


def _registry_config(work: Path, port: int, auth: str) -> Path:
    (work / "data").mkdir(parents=True, exist_ok=True)
    cfg = work / "config.yml"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {work / "data"}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            auth:
            """
        )
        + textwrap.indent(auth, "  ")
    )
    return cfg


class AuthRegistry:
    """A registry on 127.0.0.1:PORT that wants USER/PASSWORD by Basic auth (htpasswd, bcrypt)."""

    def __init__(self, work: Path, user: str, password: str) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"localhost:{self.port}"
        self.storage = work / "data"
        htpasswd = work / "htpasswd"
        htpasswd.write_bytes(user.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)) + b"\n")
        cfg = _registry_config(work, self.port, f"htpasswd:\n  realm: buildx-go-test\n  path: {htpasswd}\n")
        self._proc = _Process(["docker-registry", "serve", str(cfg)], work / "registry.log")
        wait_http(f"http://127.0.0.1:{self.port}/v2/")

    def stop(self) -> None:
        self._proc.stop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A token service as registries use it (docker/distribution's token auth): GET with Basic
    auth or POST (OAuth2 password / refresh_token grants) -> a JWT for the asked scopes."""

    def __init__(self, user: str, password: str, service: str, issuer: str) -> None:
        self.user, self.password, self.service, self.issuer = user, password, service, issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "buildx-go test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.requests: list[dict[str, str]] = []
        self.read_only = False  # tokens grant pull only: an account that may not push
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name:
                granted = [a for a in actions.split(",") if not (self.read_only and a != "pull")]
                access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": self.user,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + _b64url(signature)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, doc: dict[str, object]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                basic = "Basic " + base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                server.requests.append({"method": "GET", "scope": " ".join(query.get("scope", []))})
                if self.headers.get("Authorization") != basic:
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                self._answer(200, {"token": server.token(query.get("scope", [])), "expires_in": 300})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                server.requests.append({"method": "POST", "grant": grant, "scope": " ".join(form.get("scope", []))})
                ok = grant == "password" and form.get("username") == [server.user]
                ok = ok and form.get("password") == [server.password]
                if not ok:
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                scopes = " ".join(form.get("scope", [])).split()
                self._answer(200, {"access_token": server.token(scopes), "expires_in": 300})

        return Handler

    def stop(self) -> None:
        self._server.shutdown()


class TokenRegistry:
    """A registry that only takes bearer tokens from a TokenServer (realm/service/issuer)."""

    def __init__(self, work: Path, user: str, password: str) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.tokens = TokenServer(user, password, "buildx-go-test-registry", "buildx-go-test-issuer")
        bundle = work / "token-signer.pem"
        bundle.write_bytes(self.tokens.cert_pem())
        self.port = free_port()
        self.host = f"localhost:{self.port}"
        self.storage = work / "data"
        auth = (
            f"token:\n  realm: {self.tokens.realm}\n  service: buildx-go-test-registry\n"
            f"  issuer: buildx-go-test-issuer\n  rootcertbundle: {bundle}\n"
        )
        cfg = _registry_config(work, self.port, auth)
        self._proc = _Process(["docker-registry", "serve", str(cfg)], work / "registry.log")
        wait_http(f"http://127.0.0.1:{self.port}/v2/")

    def stop(self) -> None:
        self._proc.stop()
        self.tokens.stop()


HELPER_SCRIPT = """#!{python}
# docker-credential-{name}: a credential helper for the tests (the docker helper protocol).
import json, sys
STORE = {store!r}
def load():
    try:
        with open(STORE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {{}}
def save(data):
    with open(STORE, "w") as f:
        json.dump(data, f)
verb = sys.argv[1] if len(sys.argv) > 1 else ""
data = load()
if verb == "get":
    server = sys.stdin.read().strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": server, "Username": data[server][0], "Secret": data[server][1]}}))
elif verb == "store":
    entry = json.load(sys.stdin)
    data[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
    save(data)
elif verb == "erase":
    data.pop(sys.stdin.read().strip(), None)
    save(data)
elif verb == "list":
    print(json.dumps({{k: v[0] for k, v in data.items()}}))
else:
    sys.exit(2)
"""


def credential_helper(bin_dir: Path, store: Path, logins: dict[str, tuple[str, str]]) -> Path:
    """Install docker-credential-bxgtest in BIN_DIR with LOGINS (server -> user, secret)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps({k: list(v) for k, v in logins.items()}))
    store.chmod(0o600)
    script = bin_dir / f"docker-credential-{HELPER}"
    script.write_text(HELPER_SCRIPT.format(python=shutil.which("python3"), name=HELPER, store=str(store)))
    script.chmod(0o755)
    return script


def buildkitd_binary(name: str = "buildkitd") -> Path:
    """buildkitd (or buildctl) v0.32.2 from ../shared/tools/buildkit, uncompressed once into
    the cache and checked against SHA256SUMS."""
    want = next(
        line.split()[0] for line in (TOOLS / "SHA256SUMS").read_text().splitlines() if line.endswith(f" {name}")
    )
    target = CACHE / "buildkit" / want[:16] / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    data = lzma.decompress((TOOLS / f"{name}.xz").read_bytes())
    if hashlib.sha256(data).hexdigest() != want:
        raise AssertionError(f"{name}.xz does not match SHA256SUMS")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(target)
    return target


def _tls_files(work: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made for one test."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(
        name: str, key: rsa.RSAPrivateKey, issuer: x509.Name, signer: rsa.RSAPrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if name == "127.0.0.1":
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    keys = {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in ("ca", "server", "client")}
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "buildx-go test CA")])
    certs = {
        "ca": cert("buildx-go test CA", keys["ca"], ca_name, keys["ca"], True),
        "server": cert("127.0.0.1", keys["server"], ca_name, keys["ca"], False),
        "client": cert("buildx-go client", keys["client"], ca_name, keys["ca"], False),
    }
    files = {}
    for name in ("ca", "server", "client"):
        files[f"{name}-cert"] = work / f"{name}.pem"
        files[f"{name}-cert"].write_bytes(certs[name].public_bytes(serialization.Encoding.PEM))
        files[f"{name}-key"] = work / f"{name}-key.pem"
        files[f"{name}-key"].write_bytes(
            keys[name].private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return files


class Buildkitd:
    """buildkitd on tcp://127.0.0.1:PORT (with TLS, client certificates required, if asked),
    speaking plain http to HTTP_REGISTRIES. STATE: its state directory; by default one kept
    between runs (a builder keeps its cache, so the tests stay warm), a new one for a fresh
    machine."""

    def __init__(
        self, work: Path, http_registries: Sequence[str], state: Path | None = None, tls: bool = False
    ) -> None:
        work.mkdir(parents=True, exist_ok=True)
        config = work / "buildkitd.toml"
        self.port = free_port()
        # each daemon its own trace socket: two starting at once both take the default
        # /run/buildkit/otel-grpc.sock and one fails (bind: address already in use)
        otel = f'[otel]\n  socketPath = "/tmp/bxg-buildkitd-otel-{self.port}.sock"\n'
        registries = "".join(f'[registry."{h}"]\n  http = true\n  insecure = true\n' for h in http_registries)
        config.write_text(otel + registries)
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.root = state or CACHE / "buildkitd-test-state"
        argv = [
            str(buildkitd_binary()),
            "--config",
            str(config),
            "--root",
            str(self.root),
        ]
        argv += ["--addr", self.endpoint, "--oci-worker=true", "--containerd-worker=false"]
        argv += ["--allow-insecure-entitlement=network.host"]  # no CNI: RUN steps share the host network
        self.tls: dict[str, Path] = {}
        if tls:
            self.tls = _tls_files(work)
            argv += ["--tlscacert", str(self.tls["ca-cert"]), "--tlscert", str(self.tls["server-cert"])]
            argv += ["--tlskey", str(self.tls["server-key"])]
        self.log = work / "buildkitd.log"
        self._proc = _Process(argv, self.log)

    def node(self, platforms: str = "") -> str:
        """This daemon as a --node value: ENDPOINT[=PLATFORMS][;TLS driver options]."""
        spec = self.endpoint + (f"={platforms}" if platforms else "")
        if self.tls:
            spec += f";cacert={self.tls['ca-cert']};cert={self.tls['client-cert']};key={self.tls['client-key']}"
            spec += ";servername=127.0.0.1"
        return spec

    def built_platforms(self) -> set[str]:
        """The platforms this BuildKit built (its own build history: each request's platform)."""
        argv = [str(buildkitd_binary("buildctl")), "--addr", self.endpoint]
        if self.tls:
            argv += ["--tlscacert", str(self.tls["ca-cert"]), "--tlscert", str(self.tls["client-cert"])]
            argv += ["--tlskey", str(self.tls["client-key"]), "--tlsservername", "127.0.0.1"]
        out = subprocess.run([*argv, "debug", "histories", "--format", "{{json .}}"], capture_output=True, text=True)
        found: set[str] = set()
        for line in out.stdout.splitlines():
            attrs = json.loads(line).get("record", {}).get("FrontendAttrs", {})
            found |= set(filter(None, attrs.get("platform", "").split(",")))
        return found

    def kill(self) -> None:
        """Kill -9, as a machine that is lost: its build steps' mounts stay, so unmount them."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.proc.pid, 9)
        self._proc.proc.wait(timeout=30)
        _unmount_under(self.root)

    def stop(self) -> None:
        self._proc.stop()
        _unmount_under(self.root)


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever is still mounted below ROOT, deepest first."""
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def bootstrap(name: str, env: dict[str, str], log: Path) -> None:
    """Wait until every node of builder NAME answers."""
    deadline = time.monotonic() + 60
    full = {**os.environ, **env}
    while True:
        proc = subprocess.run(
            ["docker", "buildx", "inspect", "--bootstrap", name], env=full, capture_output=True, text=True
        )
        if proc.returncode == 0 and "running" in proc.stdout and "inactive" not in proc.stdout:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"builder {name} did not start:\n{proc.stdout}\n{proc.stderr}\n{log}")
        time.sleep(0.5)


class RemoteBuilder:
    """A Buildkitd known to buildx (in ENV's DOCKER_CONFIG) as the remote builder NAME."""

    def __init__(
        self,
        work: Path,
        name: str,
        env: dict[str, str],
        http_registries: Sequence[str],
        state: Path | None = None,
    ) -> None:
        self.name, self.env = name, env
        self.daemon = Buildkitd(work, http_registries, state)
        self.port = self.daemon.port
        full = {**os.environ, **env}
        subprocess.run(["docker", "buildx", "rm", name], env=full, capture_output=True, check=False)
        create = ["docker", "buildx", "create", "--name", name, "--driver", "remote", self.daemon.endpoint]
        subprocess.run(create, env=full, capture_output=True, check=True)
        try:
            bootstrap(name, env, self.daemon.log)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        subprocess.run(
            ["docker", "buildx", "rm", self.name], env={**os.environ, **self.env}, capture_output=True, check=False
        )
        self.daemon.stop()


@contextlib.contextmanager
def started(*items: object) -> Iterator[None]:
    try:
        yield
    finally:
        for item in reversed(items):
            item.stop()  # type: ignore[attr-defined]
