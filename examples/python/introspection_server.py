"""A FastAPI API that asks Baton about each token (RFC 7662 introspection), for opaque tokens or
for an API that wants every revocation at once. Answers are cached briefly (never past the
token's expiry), so a revoked token is refused within CACHE_SECONDS.

    BATON_ISSUER=https://auth.example.com API_AUDIENCE=https://api.example.com \
    INTROSPECTION_CLIENT=resource-server INTROSPECTION_SECRET=... \
      python3 -m uvicorn introspection_server:app --port 8001
"""
import os
import time

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

ISSUER = os.environ["BATON_ISSUER"].rstrip("/")
AUDIENCE = os.environ["API_AUDIENCE"]
CLIENT = (os.environ["INTROSPECTION_CLIENT"], os.environ["INTROSPECTION_SECRET"])
CACHE_SECONDS = float(os.environ.get("INTROSPECTION_CACHE_SECONDS", "10"))
MAX_CACHED = 10_000

# The endpoint comes from the issuer's metadata (RFC 8414), read once.
http = httpx.Client(timeout=5.0)
metadata = http.get(f"{ISSUER}/.well-known/oauth-authorization-server")
metadata.raise_for_status()
ENDPOINT = metadata.json()["introspection_endpoint"]
cache: dict[str, tuple[float, dict]] = {}


def refuse(status: int, error: str, description: str) -> HTTPException:
    return HTTPException(status, {"error": error, "error_description": description}, headers={"WWW-Authenticate": f'Bearer realm="api", error="{error}"'})


def introspect(token: str) -> dict:
    now = time.time()
    hit = cache.get(token)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        # client_secret_basic (RFC 6749 §2.3.1): id and secret form-encoded, then Basic.
        response = http.post(ENDPOINT, data={"token": token, "token_type_hint": "access_token"}, auth=CLIENT)
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise HTTPException(503, {"error": "temporarily_unavailable", "error_description": "The token issuer cannot be reached"}, headers={"Retry-After": "5"}) from err
    answer = response.json()
    until = now + CACHE_SECONDS
    if answer.get("active"):
        until = min(until, float(answer.get("exp", now)))
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[token] = (until, answer)
    return answer


def claims(request: Request) -> dict:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, {"error": "invalid_request", "error_description": "An access token is required"}, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    answer = introspect(token)
    audiences = answer.get("aud", [])
    audiences = [audiences] if isinstance(audiences, str) else audiences
    if not answer.get("active") or answer.get("iss") != ISSUER or AUDIENCE not in audiences:
        raise refuse(401, "invalid_token", "The access token is invalid")
    return answer


app = FastAPI()


@app.exception_handler(HTTPException)
async def oauth_error(_request: Request, exc: HTTPException) -> JSONResponse:
    """Errors as RFC 6750 §3 / RFC 6749 §5.2 bodies: {"error": ..., "error_description": ...}."""
    return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


@app.get("/orders")
def orders(c: dict = Depends(claims)) -> dict:
    return {"user": c["sub"], "client": c["client_id"], "orders": []}
