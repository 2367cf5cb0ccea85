"""A FastAPI API that accepts Baton's access tokens (RFC 9068 JWTs), verified with PyJWT.

The keys come from Baton's JWKS through PyJWKClient (cached; an unknown kid refetches it), and
every rule a resource server owes is checked: the signature with the algorithm pinned to the key,
`typ` (PyJWT accepts `typ: JWT` unless told), `iss`, `aud` (this API's resource URI: a token for
another API is refused), `exp`, `iat`, and the claims Baton always sets.

    BATON_ISSUER=https://auth.example.com API_AUDIENCE=https://api.example.com \
      python3 -m uvicorn resource_server:app --port 8000
"""
import os

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

ISSUER = os.environ["BATON_ISSUER"].rstrip("/")
AUDIENCE = os.environ["API_AUDIENCE"]
# The algorithms Baton signs with; each key is held to the one its JWK names.
ALGORITHMS = {"EdDSA", "ES256", "RS256", "PS256"}
LEEWAY_SECONDS = 5

jwks = jwt.PyJWKClient(f"{ISSUER}/.well-known/jwks.json", cache_jwk_set=True, lifespan=300)


def refuse(status: int, error: str, description: str) -> HTTPException:
    """An RFC 6750 §3 refusal: the status, a challenge naming the error, and the error in the body."""
    return HTTPException(status, {"error": error, "error_description": description}, headers={"WWW-Authenticate": f'Bearer realm="api", error="{error}"'})


def key_algorithm(signing_key: jwt.PyJWK) -> str:
    # PyJWT 2.8+ names it; older versions (Debian 12 ships 2.6) keep the JWK it came from.
    return getattr(signing_key, "algorithm_name", None) or signing_key._jwk_data.get("alg", "")


def claims(request: Request) -> dict:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        # RFC 6750 §3.1: a request without a token gets a challenge and no error code.
        raise HTTPException(401, {"error": "invalid_request", "error_description": "An access token is required"}, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    try:
        header = jwt.get_unverified_header(token)
        # RFC 9068 §4: an access token says so; an ID token or any other JWT is refused.
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError("typ is not at+jwt")
        try:
            signing_key = jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientError as err:
            if "Fail to fetch" in str(err):  # the issuer is unreachable: not the token's fault
                raise HTTPException(503, {"error": "temporarily_unavailable", "error_description": "The token issuer cannot be reached"}, headers={"Retry-After": "5"}) from err
            raise
        algorithm = key_algorithm(signing_key)
        if algorithm not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError("the key's algorithm is not accepted")
        return jwt.decode(
            token,
            signing_key.key,
            algorithms=[algorithm],  # RFC 8725 §3.1: the key's algorithm, never the token's choice
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "client_id"]},
        )
    except jwt.PyJWTError as err:
        raise refuse(401, "invalid_token", "The access token is invalid") from err


def scope(*needed: str):
    """A dependency requiring every scope of `needed` (RFC 6750 §3.1 insufficient_scope otherwise)."""
    def check(c: dict = Depends(claims)) -> dict:
        held = set(str(c.get("scope", "")).split())
        if not set(needed) <= held:
            raise refuse(403, "insufficient_scope", f"The token lacks the scope {' '.join(sorted(set(needed) - held))}")
        return c
    return check


app = FastAPI()


@app.exception_handler(HTTPException)
async def oauth_error(_request: Request, exc: HTTPException) -> JSONResponse:
    """Errors as RFC 6750 §3 / RFC 6749 §5.2 bodies: {"error": ..., "error_description": ...}."""
    return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


@app.get("/orders")
def orders(c: dict = Depends(claims)) -> dict:
    return {"user": c["sub"], "client": c["client_id"], "orders": []}


@app.get("/reports")
def reports(c: dict = Depends(scope("reports:run"))) -> dict:
    return {"user": c["sub"], "reports": []}
