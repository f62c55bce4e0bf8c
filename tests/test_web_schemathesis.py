"""Property-based API tests: schemathesis generates requests from the OpenAPI spec of the
JSON API and checks every response against it (no 5xx, documented status codes, schemas).

The operation's Hypothesis strategy is used directly (schemathesis' pytest plugin does not
load with this pytest version)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    import schemathesis

from collectguard.web import WebSettings, create_app

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)


def test_check_api_conforms_to_its_spec(tmp_path: Path) -> None:
    app = create_app(WebSettings(data_dir=tmp_path, secret_key="st", clock=lambda: NOW))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operation = schema["/api/v1/check"]["POST"]

    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()
