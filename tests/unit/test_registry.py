"""Credentials as docker finds them, and the registry client's auth, retries and errors,
against an in-process registry (tests/fakeregistry.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from buildx_go.errors import RegistryError, VerificationFailed
from buildx_go.refs import Reference
from buildx_go.registry.client import RegistryClient, next_page, parse_challenge, registry_error_text, retry_after
from buildx_go.registry.credentials import Credentials, from_auths_entry, lookup
from tests.fakeregistry import FakeRegistry

PASSWORD = "s3cr3t-pa55"


def docker_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(tmp_path)}


class Helper:
    """A fake `docker-credential-NAME` (the protocol: server on stdin, JSON on stdout)."""

    def __init__(self, store: dict[str, tuple[str, str]]) -> None:
        self.store = store
        self.calls: list[tuple[list[str], str]] = []

    def __call__(self, argv: list[str], stdin: str, timeout: float) -> tuple[int, str]:
        self.calls.append((argv, stdin))
        if stdin not in self.store:
            return 1, "credentials not found in native keychain\n"
        user, secret = self.store[stdin]
        return 0, json.dumps({"ServerURL": stdin, "Username": user, "Secret": secret})


def test_auths_entries_plain_and_docker_hub_aliases(tmp_path: Path) -> None:
    auth = base64.b64encode(f"ann:{PASSWORD}".encode()).decode()
    env = docker_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "ghcr.io": {"auth": auth}}})
    for registry in ("docker.io", "index.docker.io", "registry-1.docker.io", "ghcr.io"):
        creds = lookup(env, registry)
        assert creds is not None and (creds.username, creds.password) == ("ann", PASSWORD), registry
    assert lookup(env, "quay.io") is None
    assert PASSWORD not in repr(lookup(env, "ghcr.io"))  # secrets never show in a repr (or a log)


def test_credential_helpers_are_asked_as_docker_asks_them(tmp_path: Path) -> None:
    helper = Helper({"localhost:5001": ("bob", PASSWORD), "https://index.docker.io/v1/": ("<token>", "refresh-x")})
    env = docker_config(
        tmp_path,
        {
            "credsStore": "desktop",
            "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
            "auths": {"localhost:5001": {}},  # what docker writes beside a store: no secret
        },
    )
    creds = lookup(env, "localhost:5001", helper)
    assert creds is not None and (creds.username, creds.password) == ("bob", PASSWORD)
    assert creds.source == "credential helper 'desktop'"
    hub = lookup(env, "docker.io", helper)
    assert hub is not None and hub.identity_token == "refresh-x" and hub.username is None
    assert lookup(env, "123.dkr.ecr.eu-west-1.amazonaws.com", helper) is None  # ecr-login has nothing stored
    assert [(c[0][0], c[1]) for c in helper.calls] == [
        ("docker-credential-desktop", "localhost:5001"),
        ("docker-credential-desktop", "https://index.docker.io/v1/"),
        ("docker-credential-ecr-login", "123.dkr.ecr.eu-west-1.amazonaws.com"),
    ]


def test_a_missing_helper_or_a_broken_config_is_exit_5_without_the_secret(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"credsStore": "nothere"})
    with pytest.raises(RegistryError, match=r"docker-credential-nothere is not on PATH") as err:
        lookup(env, "localhost:5001", lambda argv, stdin, timeout: (127, ""))
    assert err.value.exit_code == 5
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RegistryError, match=r"not valid JSON"):
        lookup(env, "localhost:5001")
    entry = from_auths_entry("r", {"identitytoken": "tok", "registrytoken": "bearer"})
    assert entry is not None and set(entry.secrets()) == {"tok", "bearer"}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((1, "Segmentation fault"), "docker-credential-broken failed (exit 1) when asked for localhost:5001"),
        ((2, ""), "docker-credential-broken failed (exit 2)"),
        ((0, "garbage, not JSON"), "its answer for localhost:5001 is not JSON"),
        ((124, ""), "docker-credential-broken did not answer within 3 s (asked for localhost:5001)"),
    ],
)
def test_a_helper_that_fails_prints_garbage_or_hangs_is_exit_5_naming_it(
    tmp_path: Path, answer: tuple[int, str], said: str
) -> None:
    env = {**docker_config(tmp_path, {"credsStore": "broken"}), "BUILDX_GO_CREDENTIAL_HELPER_TIMEOUT": "3"}
    waits: list[float] = []

    def helper(argv: list[str], stdin: str, timeout: float) -> tuple[int, str]:
        waits.append(timeout)
        return answer

    with pytest.raises(RegistryError) as err:
        lookup(env, "localhost:5001", helper)
    assert err.value.exit_code == 5 and said in err.value.message and waits == [3.0]
    # nothing stored is no failure: anonymous, as docker does it
    assert lookup(env, "localhost:5001", lambda a, s, t: (1, "credentials not found in native keychain\n")) is None


def image_on(reg: FakeRegistry, repo: str = "team/app") -> str:
    digest, _ = reg.image(repo, [{"app": b"\x7fELF"}], tag="1.0.0")
    return digest


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_login_from_a_credential_helper_reaches_basic_and_token_registries(tmp_path: Path, kind: str) -> None:
    with FakeRegistry(auth=(kind, "bob", PASSWORD)) as reg:
        digest = image_on(reg)
        env = docker_config(tmp_path, {"credHelpers": {reg.host: "test"}})
        client = RegistryClient(env, helper=Helper({reg.host: ("bob", PASSWORD)}))
        media, got, _ = client.manifest(Reference.parse(f"{reg.host}/team/app:1.0.0"))
        assert got == digest and media.endswith("manifest.v1+json")
        assert client.digest_of(Reference.parse(f"{reg.host}/team/app:1.0.0")) == digest
        if kind == "bearer":
            assert reg.token_requests[0]["scope"] == "repository:team/app:pull"
            assert reg.token_requests[0]["service"] == "fake-registry"
            assert len(reg.token_requests) == 1  # the token is reused


def test_identity_tokens_are_traded_for_access_tokens(tmp_path: Path) -> None:
    with FakeRegistry(auth=("bearer", "bob", "unused")) as reg:
        image_on(reg)
        env = docker_config(tmp_path, {"auths": {reg.host: {"identitytoken": "refresh-bob"}}})
        RegistryClient(env).manifest(Reference.parse(f"{reg.host}/team/app:1.0.0"))
        (req,) = reg.token_requests
        assert (req["method"], req["grant_type"], req["client_id"]) == ("POST", "refresh_token", "buildx-go")


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_refused_or_missing_login_is_exit_5_naming_the_registry(tmp_path: Path, kind: str) -> None:
    with FakeRegistry(auth=(kind, "bob", PASSWORD)) as reg:
        image_on(reg)
        ref = Reference.parse(f"{reg.host}/team/app:1.0.0")
        wrong = docker_config(tmp_path, {"credsStore": "test"})
        with pytest.raises(RegistryError) as err:
            RegistryClient(wrong, helper=Helper({reg.host: ("bob", "wrong")})).manifest(ref)
        assert err.value.exit_code == 5
        assert err.value.message.startswith(f"not logged in to {reg.host} (docker login {reg.host}): ")
        assert "credential helper 'test' was refused" in err.value.message
        assert "wrong" not in err.value.message and err.value.hint == f"docker login {reg.host}"
        with pytest.raises(RegistryError, match=r"no credentials for it in the docker config"):
            RegistryClient(docker_config(tmp_path, {})).manifest(ref)


def test_reads_are_retried_on_429_5xx_and_resets_but_not_on_other_4xx(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {})
    with FakeRegistry() as reg:
        digest = image_on(reg)
        ref = Reference.parse(f"{reg.host}/team/app:1.0.0")
        waits: list[float] = []
        client = RegistryClient(env, sleep=waits.append)
        reg.faults += [
            ("/manifests/", 429, {"Retry-After": "7"}),
            ("/manifests/", 503, {}),
            ("/manifests/", "reset", {}),
        ]
        assert client.manifest(ref)[1] == digest
        assert waits[0] == 7 and len(waits) == 3  # Retry-After honoured, then backoff
        reg.faults += [("/manifests/", 500, {})] * 4
        with pytest.raises(RegistryError, match=r"HTTP 500 on GET team/app after 4 attempts") as err:
            client.manifest(ref)
        assert err.value.exit_code == 5
        reg.faults.append(("/manifests/", 400, {}))
        with pytest.raises(RegistryError, match=r"HTTP 400"):
            before = len(reg.requests)
            client.manifest(ref)
        assert len(reg.requests) == before + 1  # a 400 is not retried
        reg.faults.append(("/manifests/", 429, {"Retry-After": "3600"}))
        with pytest.raises(RegistryError, match=r"asks to retry after 3600 s"):
            client.manifest(ref)
        assert client.manifest_or_none(Reference.parse(f"{reg.host}/team/app:nope")) is None
        with pytest.raises(VerificationFailed, match=r"not found in the registry"):
            client.manifest(Reference.parse(f"{reg.host}/team/app:nope"))


def test_an_unreachable_registry_is_exit_5_after_bounded_retries() -> None:
    """Nothing listening (connection refused): tried once more, not four times, so that a
    registry that is down is said within a second or so."""
    waits: list[float] = []
    client = RegistryClient({"HOME": "/nonexistent"}, sleep=waits.append, timeout=2)
    with pytest.raises(RegistryError, match=r"127.0.0.1:9: cannot reach the registry .* after 2 attempts") as err:
        client.manifest(Reference.parse("127.0.0.1:9/x:1"))
    assert err.value.exit_code == 5 and len(waits) == 1


def test_a_dropped_connection_is_tried_four_times() -> None:
    waits: list[float] = []
    with FakeRegistry() as reg:
        reg.faults.extend([("/manifests/", "reset", {})] * 4)
        client = RegistryClient({"HOME": "/nonexistent"}, sleep=waits.append, timeout=2)
        with pytest.raises(RegistryError, match=r"after 4 attempts"):
            client.manifest(Reference.parse(f"{reg.host}/x:1"))
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]


def test_the_push_check_starts_and_cancels_an_upload_and_names_a_read_only_account() -> None:
    with FakeRegistry() as reg:
        client = RegistryClient({"HOME": "/nonexistent"})
        client.check_push(Reference.parse(f"{reg.host}/team/app:1"))
        assert [m for m, p in reg.requests if "uploads" in p] == ["POST", "DELETE"]
        reg.read_only = True
        with pytest.raises(RegistryError, match=r"HTTP 403 \(DENIED") as err:
            client.check_push(Reference.parse(f"{reg.host}/team/app:1"))
        assert err.value.exit_code == 5


def test_an_account_the_registry_took_but_may_not_push_is_told_so_not_asked_to_log_in(tmp_path: Path) -> None:
    """A 403 to credentials that were accepted (a pull-only account, a tag the registry keeps
    immutable), or a token that lacks the push scope, is not "not logged in"."""
    env = docker_config(tmp_path, {"credsStore": "test"})
    with FakeRegistry(auth=("basic", "bob", PASSWORD)) as reg:
        digest = image_on(reg)
        ref = Reference.parse(f"{reg.host}/team/app:1.0.1")
        client = RegistryClient(env, helper=Helper({reg.host: ("bob", PASSWORD)}))
        media, _, _ = client.manifest(Reference.parse(f"{reg.host}/team/app:1.0.0"))
        body = reg.manifests[("team/app", digest)][1]
        reg.read_only = True
        for attempt in (lambda: client.check_push(ref), lambda: client.put_manifest(ref, media, body)):
            with pytest.raises(RegistryError) as err:
                attempt()
            assert err.value.exit_code == 5 and "not logged in" not in err.value.message
            assert err.value.message.startswith(
                f"{reg.host}: the account of the credential helper 'test' may not push to team/app; HTTP 403 (DENIED"
            ), err.value.message
            assert PASSWORD not in err.value.message + err.value.hint
    with FakeRegistry(auth=("bearer", "bob", PASSWORD)) as reg:
        image_on(reg)
        short = {"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token",error="insufficient_scope"'}
        reg.faults += [("/blobs/uploads/", 401, short)] * 2
        client = RegistryClient(env, helper=Helper({reg.host: ("bob", PASSWORD)}))
        with pytest.raises(RegistryError, match=r"may not push to team/app; HTTP 401"):
            client.check_push(Reference.parse(f"{reg.host}/team/app:1"))
        reg.faults.append(("/blobs/uploads/", 401, short))  # anonymous: its token is refused
        with pytest.raises(RegistryError, match=r"^not logged in to .*no credentials for it"):
            RegistryClient({"HOME": "/nonexistent"}).check_push(Reference.parse(f"{reg.host}/team/app:1"))
        assert not reg.faults


def test_each_refusal_says_who_refused_what_and_never_repeats_a_secret(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"credsStore": "test"})
    bob = Helper({})
    with FakeRegistry(auth=("bearer", "bob", PASSWORD)) as reg:
        image_on(reg)
        bob.store[reg.host] = ("bob", PASSWORD)
        challenge = f'Bearer realm="http://{reg.host}/token"'
        short = {"WWW-Authenticate": challenge + ',error="insufficient_scope"'}
        # a tag delete the token does not cover, or a 403: the tag stays, said why (not "read")
        denied = [("/manifests/old", 401, {"WWW-Authenticate": challenge}), ("/manifests/old", 403, {})]
        for faults in ([("/manifests/old", 401, short)] * 2, denied):
            reg.faults += faults
            why = RegistryClient(env, helper=bob).delete_tag(Reference.parse(f"{reg.host}/team/app:old"))
            assert why is not None and "may not delete tags in team/app" in why, why
        # a read the token does not cover: as registries answer for a repository that is not there
        reg.faults += [("/manifests/1.0.0", 401, short)] * 2
        with pytest.raises(RegistryError, match=r"may not read team/app \(or it does not exist: "):
            RegistryClient(env, helper=bob).manifest(Reference.parse(f"{reg.host}/team/app:1.0.0"))
        # a token service that knows the account and refuses the scope
        reg.faults.append(("/token", 403, {}))
        with pytest.raises(RegistryError, match=r"credential helper 'test' may not push to team/app; its token"):
            RegistryClient(env, helper=bob).check_push(Reference.parse(f"{reg.host}/team/app:1"))
    with FakeRegistry() as reg:  # a 403 before any credentials were asked for: not the account's
        image_on(reg)
        bob.store[reg.host] = ("bob", PASSWORD)
        reg.faults.append(("/manifests/", 403, {}))
        with pytest.raises(RegistryError, match=r"HTTP 403 .* on reading team/app, before it asked for credentials"):
            RegistryClient(env, helper=bob).manifest(Reference.parse(f"{reg.host}/team/app:1.0.0"))
    with FakeRegistry(auth=("basic", "bob", PASSWORD)) as reg:  # a token only, and Basic asked for
        image_on(reg)
        with pytest.raises(RegistryError, match=r"password, and the credential helper 'test' holds a token$"):
            RegistryClient(env, helper=Helper({reg.host: ("<token>", "refresh-bob")})).manifest(
                Reference.parse(f"{reg.host}/team/app:1.0.0")
            )
        # a registry whose error text echoes the Authorization it got, and the password
        basic = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
        echo = {"errors": [{"code": "UNAUTHORIZED", "message": f"bad: Basic {basic} / {PASSWORD}"}]}
        reg.fault_body = json.dumps(echo).encode()
        reg.faults += [("/manifests/", 401, {"WWW-Authenticate": 'Basic realm="fake"'})] * 2
        with pytest.raises(RegistryError) as err:
            RegistryClient(env, helper=Helper({reg.host: ("bob", PASSWORD)})).manifest(
                Reference.parse(f"{reg.host}/team/app:1.0.0")
            )
        assert "bad: Basic *** / ***" in err.value.message, err.value.message
        assert basic not in err.value.message and PASSWORD not in err.value.message


def test_tag_lists_follow_link_pages() -> None:
    with FakeRegistry(page_size=2) as reg:
        for tag in ("1.0.0", "1.1.0", "1.2.0", "latest", "v2.0.0"):
            reg.image("team/app", [{"app": tag.encode()}], tag=tag)
        tags = RegistryClient({"HOME": "/nonexistent"}).tags(Reference.parse(f"{reg.host}/team/app:x"))
        assert tags == ["1.0.0", "1.1.0", "1.2.0", "latest", "v2.0.0"]
        assert sum(1 for _, p in reg.requests if "/tags/list" in p) == 3
        assert RegistryClient({"HOME": "/nonexistent"}).tags(Reference.parse(f"{reg.host}/team/none:x")) == []


def test_header_parsing() -> None:
    assert parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"') == (
        "bearer",
        {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"},
    )
    assert parse_challenge('Basic realm="Registry Realm"')[0] == "basic"
    assert next_page("http://r/v2/a/tags/list?n=2", '</v2/a/tags/list?n=2&last=b>; rel="next"') == (
        "http://r/v2/a/tags/list?n=2&last=b"
    )
    assert next_page("http://r/v2/a/tags/list", "") is None
    assert retry_after("12", 1) == 12 and 0.5 <= retry_after(None, 1) <= 0.625
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1) == 0  # in the past: at once


def test_credentials_basic_header() -> None:
    creds = Credentials("test", "u", "p")
    assert creds.basic() == "Basic " + base64.b64encode(b"u:p").decode()
    assert Credentials("test", identity_token="t").basic() is None


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_a_tag_is_written_as_the_manifests_own_bytes_with_push_rights(tmp_path: Path, kind: str) -> None:
    """What `imagetools create --tag T IMAGE@DIGEST` does in one repository: the manifest
    read by digest, checked, and PUT under the tag with its media type."""
    with FakeRegistry(auth=(kind, "bob", PASSWORD)) as reg:
        digest = image_on(reg)
        env = docker_config(tmp_path, {"credHelpers": {reg.host: "test"}})
        client = RegistryClient(env, helper=Helper({reg.host: ("bob", PASSWORD)}))
        media, body = client.manifest_bytes(Reference.parse(f"{reg.host}/team/app:1.0.0@{digest}"))
        client.put_manifest(Reference.parse(f"{reg.host}/team/app:2.0.0"), media, body)
        assert reg.manifests[("team/app", "2.0.0")] == reg.manifests[("team/app", digest)] == (media, body)
        assert ("PUT", "/v2/team/app/manifests/2.0.0") in reg.requests
        if kind == "bearer":
            assert [r["scope"] for r in reg.token_requests] == [
                "repository:team/app:pull",
                "repository:team/app:pull,push",
            ]


def tag_source(reg: FakeRegistry) -> tuple[RegistryClient, str, bytes, Reference]:
    """A client (retries without waiting), the media type and bytes of an image on REG read
    by digest, and the tag 2.0.0 to write them under."""
    digest = image_on(reg)
    client = RegistryClient({"HOME": "/nonexistent"}, sleep=lambda _: None)
    media, body = client.manifest_bytes(Reference.parse(f"{reg.host}/team/app@{digest}"))
    return client, media, body, Reference.parse(f"{reg.host}/team/app:2.0.0")


def test_a_tag_the_registry_refuses_is_exit_5_naming_the_tag() -> None:
    with FakeRegistry() as reg:
        client, media, body, target = tag_source(reg)
        reg.faults.append(("/manifests/2.0.0", 400, {}))
        with pytest.raises(RegistryError) as err:
            client.put_manifest(target, media, body)
        assert err.value.exit_code == 5
        assert err.value.message == (
            f"the registry {reg.host} failed: HTTP 400 on PUT team/app:2.0.0: UNAVAILABLE: injected"
        )
        reg.faults += [("/manifests/2.0.0", 500, {})] * 4  # a failing registry: retried, then exit 5
        with pytest.raises(RegistryError, match=r"HTTP 500 on PUT team/app after 4 attempts") as failing:
            client.put_manifest(target, media, body)
        assert failing.value.exit_code == 5
        reg.faults.append(("/manifests/2.0.0", 500, {}))  # once: the retry writes it
        client.put_manifest(target, media, body)
        assert reg.manifests[("team/app", "2.0.0")] == (media, body)


def test_a_manifest_served_under_another_digest_is_not_copied_to_a_tag() -> None:
    with FakeRegistry() as reg:
        digest = image_on(reg)
        wrong = "sha256:" + "0" * 64
        reg.manifests[("team/app", wrong)] = reg.manifests[("team/app", digest)]
        with pytest.raises(VerificationFailed, match=f"served a manifest whose digest is {digest}") as err:
            RegistryClient({"HOME": "/nonexistent"}).manifest_bytes(Reference.parse(f"{reg.host}/team/app@{wrong}"))
        assert err.value.exit_code == 6


def test_a_tag_write_is_taken_as_containerd_takes_it() -> None:
    """200, 201 or 204; the digest the registry says it stored must be the one sent; a
    registry's error text stays on one line."""
    with FakeRegistry() as reg:
        client, media, body, target = tag_source(reg)
        reg.faults.append(("/manifests/2.0.0", 204, {}))
        client.put_manifest(target, media, body)  # no error: some registries answer 204
        other = "sha256:" + "1" * 64
        reg.faults.append(("/manifests/2.0.0", 201, {"Docker-Content-Digest": other}))
        with pytest.raises(RegistryError, match=f"stored {other} on PUT team/app:2.0.0, not the index sent") as err:
            client.put_manifest(target, media, body)
        assert err.value.exit_code == 5
    assert registry_error_text(b'{"errors":[{"code":"DENIED","message":"no\\nway\\r\\n out"}]}') == "DENIED: no way out"


def test_a_manifest_of_no_stated_media_type_is_not_copied_to_a_tag() -> None:
    with FakeRegistry() as reg:
        body = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
        digest = reg.put_manifest("team/app", body, "")
        with pytest.raises(VerificationFailed, match="states no media type"):
            RegistryClient({"HOME": "/nonexistent"}).manifest_bytes(Reference.parse(f"{reg.host}/team/app@{digest}"))
