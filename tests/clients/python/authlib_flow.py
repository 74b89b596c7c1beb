#!/usr/bin/env python3
"""The standard OAuth 2.0 flow against tachi-auth with Authlib, unchanged.

Endpoints come from the RFC 8414 metadata; the authorization code flow runs
with PKCE (S256) and state through Authlib's OAuth2Session; the key is then
introspected (RFC 7662) and revoked (RFC 7009) with Authlib too. The
"browser step" (log in, approve on the consent page) is done with a
requests.Session, as a person's browser would.

Driven by tests/it/oauth_standard.rs (python_authlib_completes_the_flow_with_discovery),
configured by environment:
  TACHI_BASE, TACHI_CLIENT_ID, TACHI_CLIENT_SECRET, TACHI_REDIRECT_URI,
  TACHI_USERNAME, TACHI_PASSWORD,
  TACHI_AUTH_METHOD   client_secret_basic | client_secret_post | none (a public
                      client: no secret, TACHI_CLIENT_SECRET empty)
Prints one JSON line with what it observed; exits non-zero on any failure.
"""

import json
import os
import re
from urllib.parse import parse_qs, urlparse

# The test server listens on plain http on loopback; Authlib refuses plain
# http unless told this is deliberate. Never set this against a real server.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

import requests  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

BASE = os.environ["TACHI_BASE"]
CLIENT_ID = os.environ["TACHI_CLIENT_ID"]
CLIENT_SECRET = os.environ.get("TACHI_CLIENT_SECRET") or None
REDIRECT_URI = os.environ["TACHI_REDIRECT_URI"]
METHOD = os.environ.get("TACHI_AUTH_METHOD", "client_secret_basic")


def csrf_of(html):
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has a CSRF field"
    return m.group(1)


def discover():
    meta = requests.get(BASE + "/.well-known/oauth-authorization-server", timeout=30).json()
    assert meta["issuer"] == BASE, meta
    assert "code" in meta["response_types_supported"], meta
    assert "S256" in meta["code_challenge_methods_supported"], meta
    assert METHOD in meta["token_endpoint_auth_methods_supported"], meta
    return meta


def logged_in_browser():
    browser = requests.Session()
    page = browser.get(BASE + "/login", timeout=30)
    form = {
        "csrf": csrf_of(page.text),
        "next": "/",
        "username": os.environ["TACHI_USERNAME"],
        "password": os.environ["TACHI_PASSWORD"],
    }
    res = browser.post(BASE + "/login", data=form, allow_redirects=False, timeout=30)
    assert res.status_code == 303, res.status_code
    return browser


def obtain_token(meta, browser):
    session = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="customise_profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=METHOD,
    )
    verifier = generate_token(64)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)

    # The browser step: the consent page, then Approve.
    page = browser.get(url, allow_redirects=False, timeout=30)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    client_id = re.search(r'name="client_id" value="([^"]+)"', page.text).group(1)
    request = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    answer = {"csrf": csrf_of(page.text), "client_id": client_id, "request": request, "decision": "approve"}
    res = browser.post(BASE + "/oauth/consent", data=answer, allow_redirects=False, timeout=30)
    assert res.status_code == 303, res.status_code
    callback = res.headers["Location"]
    assert callback.startswith(REDIRECT_URI + "?"), callback
    # RFC 9207: the response names its issuer (metadata says it will).
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert parse_qs(urlparse(callback).query)["iss"] == [meta["issuer"]], callback

    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"] == "Bearer", token
    return session, token


def main():
    meta = discover()
    browser = logged_in_browser()

    session, token = obtain_token(meta, browser)
    info = session.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
    assert info["active"] is True, info
    assert info["client_id"] == CLIENT_ID, info
    res = session.revoke_token(meta["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token")
    assert res.status_code == 200, res.status_code
    after = session.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()

    _, kept = obtain_token(meta, browser)
    print(json.dumps({
        "scope": token["scope"],
        "introspected_sub": info["sub"],
        "revoked": after == {"active": False},
        "revoked_token": token["access_token"],
        "kept_token": kept["access_token"],
    }))


if __name__ == "__main__":
    main()
