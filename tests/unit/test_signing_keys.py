"""Several HS256 signing keys at once, picked by ``kid`` (``JWT_KEYS``): rotation without
dropping clients (common.auth)."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from common.auth import AuthError, AuthSettings, Verifier, sign_token

pytestmark = pytest.mark.unit

OLD = "o" * 40
NEW = "n" * 40
LEGACY = "l" * 40


def settings(**env: str | None) -> AuthSettings:
    return AuthSettings(**env)  # type: ignore[arg-type]


def test_a_token_of_the_old_kid_is_accepted_while_both_are_configured() -> None:
    before = settings(jwt_keys=f"old:{OLD}")
    assert before.signing_key == ("old", OLD)
    old_token = sign_token("old", OLD, "acme", "bob", time.time() + 60)
    during = settings(jwt_keys=f"new:{NEW},old:{OLD}")
    assert during.signing_key == ("new", NEW)
    new_token = sign_token(*during.signing_key, "acme", "bob", time.time() + 60)
    verifier = Verifier.from_settings(during)
    for token in (old_token, new_token):
        identity = verifier.verify({"token": token})
        assert (identity.tenant_id, identity.user_id) == ("acme", "bob")
    after = Verifier.from_settings(settings(jwt_keys=f"new:{NEW}"))
    assert after.verify({"token": new_token}).user_id == "bob"
    with pytest.raises(AuthError, match="unknown kid"):
        after.verify({"token": old_token})


def test_a_kid_is_checked_only_against_its_own_key() -> None:
    verifier = Verifier.from_settings(settings(jwt_keys=f"new:{NEW},old:{OLD}"))
    forged = sign_token("new", OLD, "acme", "bob", time.time() + 60)
    with pytest.raises(AuthError, match="token invalid"):
        verifier.verify({"token": forged})
    rs = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, NEW * 2, algorithm="HS512",
                    headers={"kid": "new"})
    with pytest.raises(AuthError, match="algorithm"):
        verifier.verify({"token": rs})


def test_jwt_secret_keeps_working_and_is_kid_default() -> None:
    both = settings(jwt_secret=LEGACY, jwt_keys=f"new:{NEW}")
    verifier = Verifier.from_settings(both)
    plain = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, LEGACY, algorithm="HS256")
    assert verifier.verify({"token": plain}).user_id == "bob"
    by_kid = sign_token("default", LEGACY, "default", "bob", time.time() + 60)
    assert verifier.verify({"token": by_kid}).user_id == "bob"
    assert settings(jwt_secret=LEGACY).signing_key == ("default", LEGACY)
    assert settings(jwt_public_key="pem", jwt_secret=None).signing_key is None


@pytest.mark.parametrize(("value", "message"), [
    ("nokid", "kid:secret"),
    (f"a b:{NEW}", "kid:secret"),
    ("k:short", "at least 32"),
    (f"k:{NEW},k:{OLD}", "named twice"),
])
def test_bad_jwt_keys_are_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(jwt_keys=value)


def test_jwt_keys_alone_is_enough_for_jwt_mode() -> None:
    assert settings(jwt_keys=f"k:{NEW}").auth_mode == "jwt"
