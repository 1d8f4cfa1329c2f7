"""A small OCI distribution client (manifests, blobs, tags), standard library only.

Verification reads what was really published, straight from the registry: no engine, no
pull; the only writes are tags of a manifest already there (put_manifest). Plain http for
loopback registries, https otherwise. Credentials come from where docker keeps them
(credentials.py); Basic and Bearer token auth as registries ask for it in
``WWW-Authenticate``. Requests are retried, boundedly, on 429 (honouring Retry-After), 5xx and
dropped connections, never on other 4xx. Every failure is a BuildxGoError with its exit code:
401/403 -> RegistryError (5: "not logged in", or "may not push" to credentials the registry
took), a manifest or blob that is not there -> None or VerificationFailed (6), anything else
-> RegistryError (5).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from buildx_go.errors import PushFailed, RegistryError, VerificationFailed
from buildx_go.refs import Reference
from buildx_go.registry.credentials import Credentials, HelperRunner, lookup, run_helper

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
ATTEMPTS = 4  # tries of one request: 1 + 3 retries
DEFAULT_TIMEOUT = 20.0  # seconds per request (Settings.registry_timeout)
BACKOFF = 0.5  # seconds before the first retry, doubled each time (plus jitter)
MAX_WAIT = 30.0  # the longest Retry-After honoured; a longer one fails at once
MAX_PAGES = 200  # of a paginated tag list
TRANSIENT = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def not_logged_in(registry: str, creds: Credentials | None, detail: str) -> RegistryError:
    """The one message for 401/403: who refused, with what, and what to do."""
    used = f"{creds.source} was refused" if creds else "no credentials for it in the docker config"
    return RegistryError(
        f"not logged in to {registry} (docker login {registry}): {used}; {detail}", f"docker login {registry}"
    )


def resp_what(action: str) -> str:
    """What a request with the token scope's ACTION does, in words."""
    return "deleting a tag of" if "delete" in action else "pushing to" if "push" in action else "reading"


def not_allowed(registry: str, repository: str, action: str, creds: Credentials, detail: str) -> RegistryError:
    """A 403, or a token without the scope asked for, to credentials the registry took: logged
    in, but this account may not do ACTION on REPOSITORY (or its login has expired)."""
    verb = {"deleting a tag of": "delete tags in", "pushing to": "push to", "reading": "read"}[resp_what(action)]
    verb = f"{verb} {repository}" + (" (or it does not exist: registries answer both alike)" if verb == "read" else "")
    return RegistryError(
        f"{registry}: the account of the {creds.source} may not {verb}; {detail}",
        f"check the account's rights on {repository}, or docker login {registry} again (as one that has them)",
    )


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry the registry's Authorization to another host (blob
    storage such as S3 rejects it, and it is not theirs to see)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.headers.pop("Authorization", None)
            new.unredirected_hdrs.pop("Authorization", None)
        return new


_OPENER = urllib.request.build_opener(_NoAuthAcrossHosts)


class RegistryClient:
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        *,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        helper: HelperRunner = run_helper,
    ) -> None:
        self._env = dict(env if env is not None else os.environ)
        # --registry-timeout (its value reaches here as BUILDX_GO_REGISTRY_TIMEOUT, cli.main)
        self._timeout = timeout or float(self._env.get("BUILDX_GO_REGISTRY_TIMEOUT") or DEFAULT_TIMEOUT)
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._helper = helper
        self._creds: dict[str, Credentials | None] = {}
        self._auth: dict[tuple[str, str], str] = {}  # (registry, scope) -> Authorization
        self._lock = threading.Lock()

    # --- the registry's API -------------------------------------------------------------
    def manifest(self, ref: Reference) -> tuple[str, str, dict[str, Any]]:
        """(media type, digest, document) of REF's manifest or index; VerificationFailed if absent."""
        found = self.manifest_or_none(ref)
        if found is None:
            raise VerificationFailed(f"{ref}: not found in the registry")
        return found

    def manifest_or_none(self, ref: Reference) -> tuple[str, str, dict[str, Any]] | None:
        found = self._manifest(ref)
        return found[:3] if found else None

    def _manifest(self, ref: Reference) -> tuple[str, str, dict[str, Any], bytes] | None:
        """(media type, digest, document, exact bytes) of REF's manifest, checked against REF's
        digest when it names one; None if absent."""
        resp = self._get(ref, f"/manifests/{ref.digest or ref.tag}", ACCEPT)
        if resp.status == 404:
            return None
        algorithm = ref.digest.partition(":")[0] if ref.digest else "sha256"  # sha384, sha512 as named
        digest = f"{algorithm}:" + hashlib.new(algorithm, resp.body).hexdigest()
        if ref.digest and ref.digest != digest:
            raise VerificationFailed(f"{ref}: the registry served a manifest whose digest is {digest}")
        try:
            doc = json.loads(resp.body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise VerificationFailed(f"{ref}: the manifest is not JSON")
        media = doc.get("mediaType") or resp.headers.get("content-type", "").split(";")[0].strip()
        return str(media), digest, doc, resp.body

    def digest_of(self, ref: Reference) -> str | None:
        """The digest REF resolves to (a HEAD request), None if it does not exist."""
        resp = self._request(ref, "HEAD", self._url(ref, f"/manifests/{ref.digest or ref.tag}"), ACCEPT)
        if resp.status == 404:
            return None
        self._check(ref, resp, "HEAD")
        digest = resp.headers.get("docker-content-digest")
        if digest:
            return digest
        found = self.manifest_or_none(ref)  # a registry that does not say it: read the manifest
        return found[1] if found else None

    def manifest_bytes(self, ref: Reference) -> tuple[str, bytes]:
        """(media type, exact bytes) of the manifest REF names by digest, checked against it."""
        found = self._manifest(ref)
        if found is None:
            raise VerificationFailed(f"{ref}: not found in the registry")
        media, _, _, body = found
        if not media:
            raise VerificationFailed(f"{ref}: the manifest states no media type, nor does the registry")
        return media, body

    def put_manifest(self, ref: Reference, media: str, body: bytes) -> None:
        """Tag REF (in its repository) with the manifest BODY, whose blobs and manifests are
        there already: what `docker buildx imagetools create --tag REF SOURCE@DIGEST` does
        within one repository (answered as containerd's pusher takes it: 200, 201 or 204, and
        the digest it stored, when it says, that of BODY). PushFailed (5) otherwise."""
        url = self._url(ref, f"/manifests/{ref.tag}")
        resp = self._request(ref, "PUT", url, action="pull,push", data=body, content_type=media)
        where = f"PUT {ref.repository}:{ref.tag}"
        if resp.status not in (200, 201, 204):
            detail = registry_error_text(resp.body) or "no detail"
            raise PushFailed(
                f"the registry {ref.registry} failed: HTTP {resp.status} on {where}: {detail}",
                "the registry refused the tag or is failing: rerun later",
            )
        stored, sent = resp.headers.get("docker-content-digest"), "sha256:" + hashlib.sha256(body).hexdigest()
        if stored and stored != sent:
            raise PushFailed(
                f"the registry {ref.registry} stored {stored} on {where}, not the index sent ({sent})",
                "the registry altered the manifest: tag the digest by hand, or report it to its operators",
            )

    def blob(self, ref: Reference, digest: str) -> bytes:
        resp = self._get(ref, f"/blobs/{digest}")
        if resp.status == 404:
            raise VerificationFailed(f"{ref}: blob {digest} is missing from the registry")
        if "sha256:" + hashlib.sha256(resp.body).hexdigest() != digest:
            raise VerificationFailed(f"{ref}: blob {digest} does not match its digest")
        return resp.body

    def blob_exists(self, ref: Reference, digest: str) -> None:
        """VerificationFailed unless the registry still has blob DIGEST in REF's repository."""
        resp = self._request(ref, "HEAD", self._url(ref, f"/blobs/{digest}"))
        if resp.status == 404:
            raise VerificationFailed(f"{ref}: blob {digest} is missing from the registry")
        self._check(ref, resp, "HEAD")

    def tags(self, ref: Reference) -> list[str]:
        """Every tag of REF's repository (following the Link header's pages); [] if none."""
        url: str | None = self._url(ref, "/tags/list?n=1000")
        out: list[str] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            resp = self._request(ref, "GET", url)
            if resp.status == 404:
                return out
            self._check(ref, resp, "GET")
            try:
                out += [str(t) for t in json.loads(resp.body).get("tags") or []]
            except (ValueError, AttributeError):
                raise RegistryError(f"{ref.registry}: the tag list of {ref.repository} is not JSON") from None
            url = next_page(url, resp.headers.get("link", ""))
        raise RegistryError(f"{ref.registry}: the tag list of {ref.repository} has over {MAX_PAGES} pages")

    def delete_tag(self, ref: Reference) -> str | None:
        """Delete the tag REF (only the tag, never the manifest by digest: other indexes point at
        it). None when done, else why not (many registries, distribution 2.x among them, refuse)."""
        try:
            resp = self._request(ref, "DELETE", self._url(ref, f"/manifests/{ref.tag}"), action="delete")
        except RegistryError as exc:  # not allowed, not logged in, unreachable: the tag stays
            return exc.message
        if resp.status in (200, 202, 204):
            return None
        detail = resp.body.decode(errors="replace").strip()[:200]
        return f"the registry refused (HTTP {resp.status}{': ' + detail if detail else ''})"

    # --- HTTP, auth and retries --------------------------------------------------------
    def _url(self, ref: Reference, path: str) -> str:
        host = "registry-1.docker.io" if ref.registry == "docker.io" else ref.registry
        scheme = "http" if ref.is_loopback else "https"
        return f"{scheme}://{host}/v2/{ref.repository}{path}"

    def _get(self, ref: Reference, path: str, accept: str | None = None) -> Response:
        resp = self._request(ref, "GET", self._url(ref, path), accept)
        if resp.status != 404:
            self._check(ref, resp, "GET")
        return resp

    def _check(self, ref: Reference, resp: Response, method: str) -> None:
        if resp.status >= 400:
            detail = registry_error_text(resp.body)
            raise RegistryError(
                f"{ref.registry}: HTTP {resp.status} on {method} {ref.repository}{': ' + detail if detail else ''}",
                "see the registry's status; rerun when it answers",
            )

    def _request(
        self,
        ref: Reference,
        method: str,
        url: str,
        accept: str | None = None,
        action: str = "pull",
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> Response:
        """One request, authenticated as the registry asks (again if a token expired), retried
        on 429/5xx/dropped connections. Returns any other answer, 404 included."""
        scope = f"repository:{ref.repository}:{action}"

        def send() -> Response:
            headers = {"Accept": accept} if accept else {}
            if content_type:
                headers["Content-Type"] = content_type
            auth = self._auth.get((ref.registry, scope))
            if auth:
                headers["Authorization"] = auth
            return self._send(method, url, headers, data)

        what = f"{method} {ref.repository}"
        resp = self._retrying(send, ref.registry, what)
        if resp.status == 401:
            self._authorize(ref, scope, resp.headers.get("www-authenticate", ""))
            resp = self._retrying(send, ref.registry, what)
        if resp.status in (401, 403):
            raise self._refused(ref, scope, action, resp)
        return resp

    def _refused(self, ref: Reference, scope: str, action: str, resp: Response) -> RegistryError:
        """The error for a 401 or 403 that asking again did not cure: not logged in; logged in
        (credentials presented and taken) but not allowed; or refused before any were asked for."""
        creds = self._credentials(ref.registry)
        presented = creds is not None and (ref.registry, scope) in self._auth
        detail = self._scrub(ref.registry, _status_text(resp))
        scope_short = "insufficient_scope" in resp.headers.get("www-authenticate", "")
        if creds is not None and presented and (resp.status == 403 or scope_short):
            return not_allowed(ref.registry, ref.repository, action, creds, detail)
        if creds is not None and resp.status == 403:
            return RegistryError(
                f"{ref.registry}: {detail} on {resp_what(action)} {ref.repository}, before it asked for credentials",
                "the registry refuses this request whoever makes it (an allow-list, a proxy?)",
            )
        return not_logged_in(ref.registry, creds, detail)

    def _scrub(self, registry: str, text: str) -> str:
        """TEXT (a registry's words) without any secret this client holds for REGISTRY."""
        creds = self._creds.get(registry)
        secrets = list(creds.secrets() if creds else ())
        secrets += [v.partition(" ")[2] for (r, _), v in self._auth.items() if r == registry]
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _retrying(self, send: Callable[[], Response], registry: str, what: str) -> Response:
        """SEND's first answer that is not a 429, a 5xx or a dropped connection, trying at most
        ``attempts`` times (waiting as Retry-After asks, up to MAX_WAIT, else with backoff)."""
        for attempt in range(1, self._attempts + 1):
            try:
                resp = send()
            except TRANSIENT as exc:
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
                if attempt == self._attempts or (refused and attempt >= 2):  # nothing listens: once more only
                    raise RegistryError(
                        f"{registry}: cannot reach the registry ({_reason(exc)}) on {what} after {attempt} attempts",
                        "check the registry address and that it is up",
                    ) from None
                self._sleep(backoff(attempt))
                continue
            if resp.status != 429 and resp.status < 500:
                return resp
            wait = retry_after(resp.headers.get("retry-after"), attempt)
            if attempt == self._attempts or wait > MAX_WAIT:
                later = f"; it asks to retry after {wait:.0f} s" if wait > MAX_WAIT else ""
                raise RegistryError(
                    f"{registry}: HTTP {resp.status} on {what} after {attempt} attempt{'s' if attempt > 1 else ''}"
                    f"{later}: {registry_error_text(resp.body) or 'no detail'}",
                    "the registry is failing or rate limiting: rerun later",
                )
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, method: str, url: str, headers: Mapping[str, str], data: bytes | None = None) -> Response:
        req = urllib.request.Request(url, data=data, headers=dict(headers), method=method)
        try:
            with _OPENER.open(req, timeout=self._timeout) as resp:
                body = resp.read()
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except (OSError, http.client.HTTPException):
                body = b""
            return Response(exc.code, {k.lower(): v for k, v in (exc.headers or {}).items()}, body)

    def check_push(self, ref: Reference) -> None:
        """Whether this run may push to REF's repository, asked before anything is built (as
        go-containerregistry's CheckPushPermission): a blob upload started, then cancelled.
        Refused credentials are exit 5 naming the registry; so is an upload the registry refuses."""
        url = self._url(ref, "/blobs/uploads/")
        resp = self._request(ref, "POST", url, action="pull,push", data=b"")
        if resp.status not in (201, 202):
            detail = registry_error_text(resp.body) or f"HTTP {resp.status}"
            raise RegistryError(
                f"{ref.registry}: this account cannot push to {ref.repository} ({detail})",
                f"check the account's rights on {ref.repository}, or docker login {ref.registry} as one that has them",
            )
        location = resp.headers.get("location", "")
        if location:  # cancel it: nothing is left behind (a registry that cannot is fine too)
            upload = urllib.parse.urljoin(url, location)
            with contextlib.suppress(RegistryError):
                self._request(ref, "DELETE", upload, action="pull,push")

    def check_credentials(self, ref: Reference) -> str:
        """Where REF's registry's credentials come from (docker's lookup, its helper asked
        now): a helper that fails, is missing or hangs is exit 5 before anything is built."""
        creds = self._credentials(ref.registry)
        return creds.source if creds else "none (anonymous)"

    def _credentials(self, registry: str) -> Credentials | None:
        with self._lock:
            if registry not in self._creds:
                self._creds[registry] = lookup(self._env, registry, self._helper)
            return self._creds[registry]

    def _authorize(self, ref: Reference, scope: str, challenge: str) -> None:
        """Answer REF's registry's 401 challenge: Basic with the credentials, or a Bearer token
        from its realm (with the credentials, an identity token, or anonymously)."""
        scheme, params = parse_challenge(challenge)
        creds = self._credentials(ref.registry)
        if scheme == "basic":
            basic = creds.basic() if creds else None
            if not basic and creds is not None:  # an identity token only: nothing to answer with
                raise RegistryError(
                    f"not logged in to {ref.registry} (docker login {ref.registry}): it asks for a username and "
                    f"password, and the {creds.source} holds a token",
                    f"docker login {ref.registry}",
                )
            if not basic:
                raise not_logged_in(ref.registry, creds, "it asks for a username and password")
            self._auth[(ref.registry, scope)] = basic
            return
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryError(
                f"{ref.registry}: unsupported authentication challenge {challenge[:80]!r}",
                "buildx-go speaks Basic and Bearer token auth",
            )
        if creds and creds.registry_token:
            self._auth[(ref.registry, scope)] = f"Bearer {creds.registry_token}"
            return
        self._auth[(ref.registry, scope)] = "Bearer " + self._token(ref.registry, params, scope, creds)

    def _token(self, registry: str, params: Mapping[str, str], scope: str, creds: Credentials | None) -> str:
        """A bearer token from the challenge's realm for SCOPE."""
        realm = params["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{registry}: token realm {realm!r} is not an http(s) URL")
        query = {"scope": scope, **({"service": params["service"]} if params.get("service") else {})}
        if creds and creds.identity_token:  # OAuth2: trade the refresh token for an access token
            form = {**query, "grant_type": "refresh_token", "refresh_token": creds.identity_token}
            data = urllib.parse.urlencode({**form, "client_id": "buildx-go"}).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            resp = self._token_request("POST", realm, headers, data, registry)
        else:
            basic = creds.basic() if creds else None
            headers = {"Authorization": basic} if basic else {}
            resp = self._token_request("GET", f"{realm}?{urllib.parse.urlencode(query)}", headers, None, registry)
        sent = creds is not None and (creds.basic() or creds.identity_token)
        if resp.status == 403 and creds is not None and sent:  # a login it knows, not allowed this scope
            _, repository, action = scope.split(":", 2)
            raise not_allowed(registry, repository, action, creds, "its token service answered HTTP 403")
        if resp.status in (401, 403):
            raise not_logged_in(registry, creds, f"its token service answered HTTP {resp.status}")
        if resp.status != 200:
            raise RegistryError(f"{registry}: its token service answered HTTP {resp.status}", "rerun later")
        try:
            doc = json.loads(resp.body)
            token = str(doc.get("token") or doc.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise RegistryError(f"{registry}: its token service gave no token")
        return token

    def _token_request(
        self, method: str, url: str, headers: Mapping[str, str], data: bytes | None, registry: str
    ) -> Response:
        return self._retrying(lambda: self._send(method, url, headers, data), registry, "its token service")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer', {realm, service, scope}) from ``WWW-Authenticate: Bearer realm="...",...``."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest)}
    params.update({k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*([^",\s]+)', rest) if k.lower() not in params})
    return scheme.lower(), params


def backoff(attempt: int) -> float:
    """Seconds before retry ATTEMPT+1: 0.5, 1, 2 ... with up to 25% jitter."""
    base = BACKOFF * 2.0 ** (attempt - 1)
    return base + random.uniform(0, base / 4)


def retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), else the backoff."""
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return backoff(attempt)


def next_page(url: str, link: str) -> str | None:
    """The next page's URL from a ``Link: <...>; rel="next"`` header, resolved against URL."""
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return urllib.parse.urljoin(url, m.group(1)) if m else None


def registry_error_text(body: bytes) -> str:
    """The registry's own error message (OCI error JSON), on one line, shortened; never the request."""
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
        return " ".join(text.split())[:200]
    except (ValueError, AttributeError):
        return ""


def _status_text(resp: Response) -> str:
    detail = registry_error_text(resp.body)
    return f"HTTP {resp.status}" + (f" ({detail})" if detail else "")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(reason).__name__}: {reason}"[:160]
