"""Who is calling, as the edge auth gateway vouches for it: verifies X-Auth-Assertion.

The gateway checks the caller's credential and the route's rule before forwarding, and adds
X-Auth-Assertion: a short-lived JWT signed with its own key (iss = the gateway's ISSUER, aud = this
upstream's origin, typ gateway-assertion+jwt). Verifying it here means a request that reached the
app some other way (not through the gateway) carries no identity at all.

Needs PyJWT 2.x with its crypto extra (Debian: python3-jwt, which brings python3-cryptography).
"""

import os
from dataclasses import dataclass, field

import jwt
from fastapi import HTTPException, Request, status

GATEWAY_ISSUER = os.environ.get("GATEWAY_ISSUER", "http://127.0.0.1:8787")
# This app's origin as the gateway's route names it (the route's upstream): the assertion's audience.
UPSTREAM_ORIGIN = os.environ.get("UPSTREAM_ORIGIN", "http://127.0.0.1:8000")

# PyJWKClient caches the key set and fetches it again for an unknown kid (a key rotation).
_jwks = jwt.PyJWKClient(f"{GATEWAY_ISSUER}/.well-known/jwks.json", cache_keys=True, lifespan=3600)


@dataclass
class Caller:
    sub: str
    username: str
    auth_method: str
    roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)

    def require_scopes(self, needed: list[str]) -> None:
        """Defence in depth: the gateway already refused a caller without them."""
        missing = [scope for scope in needed if scope not in self.scopes]
        if missing:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"missing scope(s): {' '.join(missing)}",
                headers={"WWW-Authenticate": f'Bearer scope="{" ".join(needed)}"'},
            )

    def require_role(self, role: str) -> None:
        # The assertion carries the roles the user holds; the gateway's hierarchy (admin > editor >
        # user) was applied when it decided. Here, name every role that may pass.
        if role not in self.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires role {role}")


def gateway_caller(request: Request) -> Caller:
    """FastAPI dependency: the verified caller, or 401. Reads the header itself (no Header()
    parameter) so that the OpenAPI document does not list it as a parameter of every operation."""
    assertion = request.headers.get("x-auth-assertion")
    if not assertion:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no gateway assertion")
    try:
        key = _jwks.get_signing_key_from_jwt(assertion)
        claims = jwt.decode(
            assertion,
            # The key object, not its PyJWK wrapper: PyJWT before 2.8 (Debian 12 has 2.6) refuses
            # the wrapper ("Expecting a PEM-formatted key"); every 2.x accepts the key object.
            key.key,
            algorithms=["ES256", "EdDSA"],
            issuer=GATEWAY_ISSUER,
            audience=UPSTREAM_ORIGIN,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid gateway assertion") from None
    if jwt.get_unverified_header(assertion).get("typ") != "gateway-assertion+jwt":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not a gateway assertion")
    return Caller(
        sub=claims["sub"],
        username=claims.get("username", ""),
        auth_method=claims.get("auth_method", ""),
        roles=list(claims.get("roles", [])),
        scopes=claims.get("scope", "").split(),
    )
