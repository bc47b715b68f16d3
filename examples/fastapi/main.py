"""Inventory API: a small FastAPI app meant to run behind the edge auth gateway.

It declares its security the FastAPI way (an OAuth2 password scheme with scopes, an API key header,
an explicitly public route, admin-only routes through the x-gateway-roles extension), so that
`npm run routes -- import-openapi examples/fastapi/openapi.json` derives the gateway's route table
from it. The gateway issues and checks the tokens; the app verifies X-Auth-Assertion
(gateway_auth.py) and reads who is calling from it.

Dependencies are default arguments (`user: Caller = Security(current_user, scopes=[...])`), the style
of FastAPI's security tutorial, so that the app runs on FastAPI 0.92 (Debian 12) as on current
releases: `Annotated[Caller, Security(...)]` is understood only from 0.95; 0.92 reads such a
parameter as a request body, and its exported document then declares no security at all.

Run (Debian: apt-get install python3-fastapi python3-uvicorn python3-jwt python3-cryptography; or a
virtualenv with pip install -r requirements.txt, then `python` for /usr/bin/python3):
  /usr/bin/python3 -m uvicorn main:app --port 8000
Export the document:
  /usr/bin/python3 -c "import json, main; print(json.dumps(main.app.openapi(), indent=2))" > openapi.json
"""

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer, SecurityScopes
from pydantic import BaseModel

from gateway_auth import Caller, gateway_caller

app = FastAPI(title="Inventory API", version="0.1.0")

# Declared for the OpenAPI document and Swagger UI's "Authorize" button; the token comes from the
# gateway's token endpoint. auto_error=False: the gateway does not forward Authorization (unless a
# route sets forward_authorization), the app authenticates the gateway's assertion instead.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    scopes={
        "me": "Read information about the current user.",
        "items": "Read items.",
    },
    auto_error=False,
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


class Item(BaseModel):
    id: int
    name: str
    owner: str


ITEMS = {1: Item(id=1, name="Portal Gun", owner="rick"), 2: Item(id=2, name="Plumbus", owner="morty")}


def current_user(
    security_scopes: SecurityScopes,
    _token: str | None = Depends(oauth2_scheme),
    caller: Caller = Depends(gateway_caller),
) -> Caller:
    caller.require_scopes(security_scopes.scopes)
    return caller


def key_holder(
    _key: str | None = Depends(api_key_scheme),
    caller: Caller = Depends(gateway_caller),
) -> Caller:
    return caller


def items_reader(
    _token: str | None = Security(oauth2_scheme, scopes=["items"]),
    _key: str | None = Depends(api_key_scheme),
    caller: Caller = Depends(gateway_caller),
) -> Caller:
    """A bearer token with scope items, or an API key (FastAPI lists the two as alternatives).

    The scope sits on the OAuth2 scheme itself, not on Security(items_reader, scopes=[...]): later
    FastAPI releases (0.142 at least) hand such scopes to the API key scheme too and export
    {"APIKeyHeader": ["items"]} where 0.92 exports {"APIKeyHeader": []}: another route table."""
    if caller.auth_method != "api_key":
        caller.require_scopes(["items"])
    return caller


@app.get("/status", openapi_extra={"security": []})
def status():
    return {"status": "ok"}


@app.get("/version")
def version():
    # No security declared: the import's --default decides (deny unless told otherwise).
    return {"version": app.version}


@app.get("/users/me")
def read_users_me(user: Caller = Security(current_user, scopes=["me"])):
    return {"sub": user.sub, "username": user.username, "roles": user.roles}


@app.get("/users/me/items")
def read_own_items(user: Caller = Security(current_user, scopes=["me", "items"])):
    return [item for item in ITEMS.values() if item.owner == user.username]


@app.get("/items/")
def read_items(_caller: Caller = Depends(items_reader)):
    return list(ITEMS.values())


@app.get("/items/{item_id}", response_model=Item)
def read_item(item_id: int, _user: Caller = Security(current_user, scopes=["items"])):
    if item_id not in ITEMS:
        raise HTTPException(404, "no such item")
    return ITEMS[item_id]


@app.delete("/items/{item_id}", status_code=204, openapi_extra={"x-gateway-roles": ["admin"]})
def delete_item(item_id: int, user: Caller = Security(current_user, scopes=["items"])):
    user.require_role("admin")
    ITEMS.pop(item_id, None)


@app.get("/inventory/stats", openapi_extra={"x-gateway-roles": ["admin"]})
def admin_stats(user: Caller = Security(current_user)):
    user.require_role("admin")
    return {"items": len(ITEMS)}


@app.get("/reports/{report_id}")
def read_report(report_id: str, caller: Caller = Depends(key_holder)):
    return {"report": report_id, "for": caller.sub}
