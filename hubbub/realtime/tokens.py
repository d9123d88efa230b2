"""Twilio access tokens: the JWT `twilio.jwt.access_token.AccessToken` with a `ChatGrant` produces.

Header `{"typ": "JWT", "alg": "HS256", "cty": "twilio-fpa;v=1"}`; claims `jti`, `iss` (the API key SID),
`sub` (the account SID), `nbf`, `exp`, `grants.identity`, `grants.chat.service_sid`; signed with the API
key's secret (table `api_keys`). Failures carry Twilio's 2010x codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from hubbub import errors
from hubbub.domain.sids import is_sid
from hubbub.errors import TwilioError

MAX_TTL = 24 * 3600  # Twilio: "maximum and default lifetime is 24 hours"
LEEWAY = 5  # seconds of clock skew tolerated on exp / nbf


@dataclass(frozen=True, slots=True)
class AccessGrant:
    account_sid: str
    api_key_sid: str
    identity: str
    service_sid: str
    expires: int


def token_error(code: int, message: str) -> TwilioError:
    return TwilioError(message, code=code, status=401)


# (api key SID) -> (account SID, secret) or None
KeyLookup = Callable[[str], "tuple[str, str] | None"]


def unverified_issuer(token: str) -> str:
    """The API key SID a token claims to be signed with (checked by `verify` afterwards)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise token_error(errors.TOKEN_INVALID, "Invalid Access Token") from None
    if header.get("alg") != "HS256" or header.get("cty") != "twilio-fpa;v=1":
        raise token_error(errors.TOKEN_INVALID_HEADER, "Invalid Access Token header")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not is_sid(issuer, "SK"):
        raise token_error(errors.TOKEN_INVALID_ISSUER, "Invalid Access Token issuer/subject")
    return issuer


def verify(token: str, key: tuple[str, str] | None, *, now: float | None = None) -> AccessGrant:
    """Check a token against its API key's (account SID, secret); `key` None means an unknown key."""
    issuer = unverified_issuer(token)
    if key is None:
        raise token_error(errors.TOKEN_INVALID_ISSUER, "Invalid Access Token issuer/subject")
    account_sid, secret = key
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise token_error(errors.TOKEN_INVALID_SIGNATURE, "Invalid Access Token signature") from None
    except jwt.PyJWTError:
        raise token_error(errors.TOKEN_INVALID, "Invalid Access Token") from None
    if claims.get("sub") != account_sid:
        raise token_error(errors.TOKEN_INVALID_ISSUER, "Invalid Access Token issuer/subject")
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + LEEWAY < now:
        raise token_error(errors.TOKEN_EXPIRED, "Access Token expired or expiration date invalid")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or nbf - LEEWAY > now):
        raise token_error(errors.TOKEN_NOT_YET_VALID, "Access Token not yet valid")
    if exp - (nbf if isinstance(nbf, int) else int(now)) > MAX_TTL + LEEWAY:
        raise token_error(errors.TOKEN_TTL_TOO_LONG, "Access Token ttl exceeds the 24 hour maximum")
    grants = claims.get("grants")
    identity = grants.get("identity") if isinstance(grants, dict) else None
    chat = grants.get("chat") if isinstance(grants, dict) else None
    service = chat.get("service_sid") if isinstance(chat, dict) else None
    if not isinstance(identity, str) or not identity or len(identity) > 256 or "\x00" in identity:
        raise token_error(errors.TOKEN_INVALID_GRANTS, "Invalid Access Token grants: no identity")
    if not isinstance(service, str) or not is_sid(service, "IS"):
        raise token_error(errors.TOKEN_INVALID_GRANTS, "Invalid Access Token grants: no chat grant")
    return AccessGrant(account_sid, issuer, identity, service, exp)
