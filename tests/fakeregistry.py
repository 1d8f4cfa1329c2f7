"""An in-process OCI distribution registry on 127.0.0.1 for tests: real HTTP, in memory.

It serves manifests, blobs and paginated tag lists, answers Basic or Bearer-token auth as a
registry does (``auth=``), and injects faults on demand (``faults``): statuses with headers,
or a dropped connection. ``image()`` builds and stores images from files, in OCI or Docker
media types, gzip / zstd / uncompressed, optionally lying about them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import zstandard

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LAYER_TYPES = {
    (OCI_MANIFEST, "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    (OCI_MANIFEST, "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    (OCI_MANIFEST, "none"): "application/vnd.oci.image.layer.v1.tar",
    (DOCKER_MANIFEST, "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    (DOCKER_MANIFEST, "zstd"): "application/vnd.docker.image.rootfs.diff.tar.zstd",  # what engines refuse
    (DOCKER_MANIFEST, "none"): "application/vnd.docker.image.rootfs.diff.tar",
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(files: Mapping[str, bytes | str]) -> bytes:
    """A layer tar: bytes are regular files, str values are symlink targets."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def entry_tar(entries: list[tuple[str, str, bytes | str, int, int]]) -> bytes:
    """A layer tar from (name, kind, content or link target, mode, uid) entries, in order:
    kind is file, dir, symlink, hardlink (to a name earlier in the tar) or whiteout."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, what, mode, uid in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = mode, uid, uid
            if kind == "file":
                data = what if isinstance(what, bytes) else what.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}.get(
                kind, tarfile.REGTYPE
            )
            if kind in ("symlink", "hardlink"):
                info.linkname = str(what)
            tar.addfile(info)
    return out.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


class FakeRegistry:
    def __init__(self, auth: tuple[str, str, str] | None = None, page_size: int = 0) -> None:
        """AUTH: ("basic"|"bearer", user, password), else anonymous. PAGE_SIZE: tags per page
        (0: all at once) when the client does not ask for fewer."""
        self.auth = auth
        self.page_size = page_size
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}  # (repo, tag or digest)
        self.requests: list[tuple[str, str]] = []  # (method, path) as received
        self.faults: list[tuple[str, int | str, dict[str, str]]] = []  # (path part, status|"reset", headers)
        self.token_requests: list[dict[str, Any]] = []
        self.read_only = False  # blob uploads refused (403): an account that may only pull
        self.fault_body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'  # what a fault answers
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeRegistry:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- content ----------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        d = digest_of(data)
        self.blobs[d] = data
        return d

    def put_manifest(self, repo: str, doc: dict[str, Any] | bytes, media: str, tag: str | None = None) -> str:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        d = digest_of(body)
        self.manifests[(repo, d)] = (media, body)
        if tag:
            self.manifests[(repo, tag)] = (media, body)
        return d

    def image(
        self,
        repo: str,
        layers: list[Mapping[str, bytes | str] | bytes],
        *,
        arch: str = "amd64",
        variant: str | None = None,
        entrypoint: str = "/app",
        manifest_type: str = OCI_MANIFEST,
        compression: str = "gzip",
        layer_types: list[str] | None = None,
        diff_ids: list[str] | None = None,
        tag: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Store an image of LAYERS (files per layer, or a layer tar as bytes); (manifest
        digest, size). CONFIG replaces the config's `config` (Entrypoint, Cmd, Env, User...).
        LAYER_TYPES and DIFF_IDS override what would be declared (to make lies)."""
        descriptors, real_diff_ids = [], []
        for i, files in enumerate(layers):
            raw = files if isinstance(files, bytes) else tar_of(files)
            real_diff_ids.append(digest_of(raw))
            blob = compress(raw, compression)
            media = layer_types[i] if layer_types else LAYER_TYPES[(manifest_type, compression)]
            descriptors.append({"mediaType": media, "digest": self.put_blob(blob), "size": len(blob)})
        config = {
            "architecture": arch,
            "os": "linux",
            **({"variant": variant} if variant else {}),
            "config": dict(config) if config is not None else {"Entrypoint": [entrypoint]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids if diff_ids is not None else real_diff_ids},
        }
        config_blob = json.dumps(config).encode()
        config_type = (
            "application/vnd.oci.image.config.v1+json"
            if manifest_type == OCI_MANIFEST
            else "application/vnd.docker.container.image.v1+json"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": self.put_blob(config_blob), "size": len(config_blob)},
            "layers": descriptors,
        }
        body = json.dumps(manifest).encode()
        return self.put_manifest(repo, body, manifest_type, tag), len(body)

    def index(self, repo: str, tag: str, images: list[tuple[str, int, dict[str, str]]], attestations: int = 0) -> str:
        """Store an OCI index of IMAGES ((digest, size, platform)) plus ATTESTATIONS entries."""
        entries: list[dict[str, Any]] = [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": n, "platform": p} for d, n, p in images
        ]
        for d, n, _ in images[:attestations]:
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": self.put_blob(b"attestation for " + d.encode()),
                    "size": n,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": d,
                    },
                }
            )
        return self.put_manifest(
            repo, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX, tag
        )

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, str]]]:
        """The requests made inside the block."""
        start = len(self.requests)
        seen: list[tuple[str, str]] = []
        yield seen
        seen.extend(self.requests[start:])

    # --- HTTP ---------------------------------------------------------------------------
    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str) -> None:
                body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}).encode()
                self._send(status, body, {"Content-Type": "application/json"})

            def _fault(self) -> bool:
                for i, (part, status, headers) in enumerate(registry.faults):
                    if part in self.path:
                        del registry.faults[i]
                        if status == "reset":
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return True
                        assert isinstance(status, int)
                        self._send(status, registry.fault_body, headers)
                        return True
                return False

            def _challenge(self) -> None:
                kind = registry.auth[0] if registry.auth else "basic"
                if kind == "basic":
                    challenge = 'Basic realm="fake"'
                else:
                    challenge = f'Bearer realm="http://{registry.host}/token",service="fake-registry"'
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                self._send(401, body, {"WWW-Authenticate": challenge, "Content-Type": "application/json"})

            def _token(self) -> None:
                assert registry.auth is not None
                _, user, password = registry.auth
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                form: dict[str, str] = {}
                if self.command == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                registry.token_requests.append({"method": self.command, **query, **form})
                basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                ok = self.headers.get("Authorization") == basic or form.get("refresh_token") == f"refresh-{user}"
                if not ok:
                    self._error(401, "UNAUTHORIZED")
                    return
                key = "access_token" if self.command == "POST" else "token"
                self._send(200, json.dumps({key: f"tok-{user}"}).encode(), {"Content-Type": "application/json"})

            def _route(self) -> None:
                registry.requests.append((self.command, self.path))
                if self._fault():
                    return
                path = urllib.parse.urlsplit(self.path).path
                if path == "/token":
                    self._token()
                    return
                if registry.auth is not None and not self._check_auth():
                    return
                parts = path.split("/")
                if len(parts) < 4 or parts[1] != "v2":
                    self._error(404, "NOT_FOUND")
                    return
                if parts[-1] == "list" and parts[-2] == "tags":
                    self._tags("/".join(parts[2:-2]))
                    return
                if "uploads" in parts:  # a blob upload started (POST), then cancelled (DELETE)
                    if registry.read_only:
                        self._error(403, "DENIED")
                    elif self.command == "POST":
                        self._send(
                            202, b"", {"Location": f"/v2/{'/'.join(parts[2 : parts.index('blobs')])}/blobs/uploads/u1"}
                        )
                    else:
                        self._send(204)
                    return
                repo, kind, ref = "/".join(parts[2:-2]), parts[-2], parts[-1]
                if kind == "manifests":
                    if self.command == "DELETE":
                        self._error(405, "UNSUPPORTED")
                        return
                    if self.command == "PUT":  # a tag written (what imagetools create does)
                        self._put_manifest(repo, ref)
                        return
                    found = registry.manifests.get((repo, ref))
                    if found is None:
                        self._error(404, "MANIFEST_UNKNOWN")
                        return
                    media, body = found
                    self._send(200, body, {"Content-Type": media, "Docker-Content-Digest": digest_of(body)})
                elif kind == "blobs":
                    blob = registry.blobs.get(ref)
                    if blob is None:
                        self._error(404, "BLOB_UNKNOWN")
                        return
                    self._send(200, blob, {"Content-Type": "application/octet-stream"})
                else:
                    self._error(404, "NOT_FOUND")

            def _put_manifest(self, repo: str, tag: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                media = self.headers.get("Content-Type", "")
                if registry.read_only:
                    self._error(403, "DENIED")
                elif json.loads(body).get("mediaType", media) != media:
                    self._error(400, "MANIFEST_INVALID")
                else:
                    registry.put_manifest(repo, body, media, tag)
                    self._send(201, b"", {"Docker-Content-Digest": digest_of(body)})

            def _check_auth(self) -> bool:
                assert registry.auth is not None
                kind, user, password = registry.auth
                given = self.headers.get("Authorization", "")
                basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if (kind == "basic" and given == basic) or (kind == "bearer" and given == f"Bearer tok-{user}"):
                    return True
                self._challenge()
                return False

            def _tags(self, repo: str) -> None:
                tags = sorted(t for (r, t) in registry.manifests if r == repo and not t.startswith("sha256:"))
                if not tags:
                    self._error(404, "NAME_UNKNOWN")
                    return
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                n = registry.page_size or len(tags)
                after = query.get("last")
                rest = [t for t in tags if after is None or t > after]
                page = rest[:n]
                headers = {"Content-Type": "application/json"}
                if len(rest) > n:
                    headers["Link"] = f'</v2/{repo}/tags/list?n={n}&last={page[-1]}>; rel="next"'
                self._send(200, json.dumps({"name": repo, "tags": page}).encode(), headers)

            do_GET = do_HEAD = do_DELETE = do_POST = do_PUT = _route

        return Handler
