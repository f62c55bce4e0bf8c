"""Shared helpers of the web tests: the demo users' passwords, a page's CSRF token, and a
signed-in client."""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from fastapi import FastAPI

PASSWORDS = {"zhangwei": "zw-secret-1", "lina": "ln-secret-2", "wangfang": "wf-secret-3"}


def csrf(client: TestClient, path: str = "/") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    r = client.post(
        "/login",
        data={"csrf_token": csrf(client, "/login"), "username": username,
              "password": PASSWORDS[username]},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return client
