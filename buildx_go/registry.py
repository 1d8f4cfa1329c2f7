"""A small read-only OCI distribution client (manifests and blobs), standard library only.

Verification reads what was really published, straight from the registry: no engine, no
pull. Plain http for loopback registries, https otherwise; anonymous or basic credentials
from the docker config (``auths``), with the bearer-token dance registries expect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from buildx_go.errors import PushFailed
from buildx_go.refs import Reference

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def docker_config_auths(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Basic credentials from the docker config's ``auths`` (credential helpers are not read)."""
    cfg_dir = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        data = json.loads((cfg_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for host, entry in (data.get("auths") or {}).items():
        if isinstance(entry, dict) and entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            out[host.removeprefix("https://").removeprefix("http://").split("/")[0]] = (user, password)
    return out


class RegistryClient:
    def __init__(self, env: Mapping[str, str] | None = None, timeout: float = 60) -> None:
        self._auths = docker_config_auths(env if env is not None else os.environ)
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._timeout = timeout

    def _base(self, ref: Reference) -> str:
        host = "registry-1.docker.io" if ref.registry == "docker.io" else ref.registry
        scheme = "http" if ref.is_loopback else "https"
        return f"{scheme}://{host}/v2/{ref.repository}"

    def _open(self, ref: Reference, url: str, accept: str | None = None, method: str = "GET") -> Any:
        headers = {"Accept": accept} if accept else {}
        action = "delete" if method == "DELETE" else "pull"
        token = self._tokens.get((ref.registry, ref.repository, action))
        if token:
            headers["Authorization"] = token
        req = urllib.request.Request(url, headers=headers, method=method)
        try:
            return urllib.request.urlopen(req, timeout=self._timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or token:
                raise
            challenge = exc.headers.get("WWW-Authenticate", "")
            self._tokens[(ref.registry, ref.repository, action)] = self._authorize(ref, challenge, action)
            return self._open(ref, url, accept, method)

    def _authorize(self, ref: Reference, challenge: str, action: str = "pull") -> str:
        creds = self._auths.get(ref.registry) or (
            self._auths.get("index.docker.io") if ref.registry == "docker.io" else None
        )
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not creds:
                raise PushFailed(f"{ref.registry}: needs credentials", f"docker login {ref.registry}")
            return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        query = {"scope": f"repository:{ref.repository}:{action}"}
        if fields.get("service"):
            query["service"] = fields["service"]
        req = urllib.request.Request(fields.get("realm", "") + "?" + urllib.parse.urlencode(query))
        if creds:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode())
        with urllib.request.urlopen(req, timeout=self._timeout) as resp:
            doc = json.load(resp)
        return "Bearer " + (doc.get("token") or doc.get("access_token") or "")

    def manifest(self, ref: Reference) -> tuple[str, str, dict[str, Any]]:
        """(media type, digest, document) of REF's manifest or index."""
        url = f"{self._base(ref)}/manifests/{ref.digest or ref.tag}"
        with self._open(ref, url, ", ".join(INDEX_TYPES + MANIFEST_TYPES)) as resp:
            body = resp.read()
            media = resp.headers.get("Content-Type", "").split(";")[0]
        doc = json.loads(body)
        return doc.get("mediaType") or media, "sha256:" + hashlib.sha256(body).hexdigest(), doc

    def manifest_or_none(self, ref: Reference) -> tuple[str, str, dict[str, Any]] | None:
        try:
            return self.manifest(ref)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def blob(self, ref: Reference, digest: str) -> bytes:
        with self._open(ref, f"{self._base(ref)}/blobs/{digest}") as resp:
            data: bytes = resp.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise PushFailed(f"{ref}: blob {digest} does not match its digest")
        return data

    def tags(self, ref: Reference) -> list[str]:
        try:
            with self._open(ref, f"{self._base(ref)}/tags/list") as resp:
                return list(json.load(resp).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise

    def delete_tag(self, ref: Reference) -> str | None:
        """Delete the tag REF (only the tag, never the manifest by digest: other indexes point at
        it). None when done, else why not (many registries, distribution 2.x among them, refuse)."""
        try:
            with self._open(ref, f"{self._base(ref)}/manifests/{ref.tag}", method="DELETE"):
                return None
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()[:200]
            return f"the registry refused (HTTP {exc.code}{': ' + detail if detail else ''})"
