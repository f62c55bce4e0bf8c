"""The consumer checker: paste a message, get a verdict card; and the JSON API beside it.

Owns: ``GET /`` (the form), ``POST /check`` (the verdict page), ``POST /check/letter``
(a letter about the pasted message, as PDF or DOCX: the message is a one-item case in a
throw-away evidence store, deleted before the response is sent) and ``POST /api/v1/check``
(the contract of a check as JSON). Uses the shared analyzer; stores nothing (keeping a
message is the locker's ``POST /locker/messages``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from collectguard import Analyzer, CheckResult, InputError
from collectguard.analyze.result import IanaZone
from collectguard.evidence.letters import LETTER_KINDS
from collectguard.web.deps import Csrf, DbSession, context, current_user, render
from collectguard.web.letters import (
    LetterChoice,
    LetterUnavailable,
    case_recommendation,
    letter_choices,
    letter_response,
    recommended_kinds,
)
from collectguard.web.verdict import highlight, reasons

__all__ = ["CheckRequest", "api_router", "page_router", "parse_received_at"]

page_router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["check"])

_MAX_TEXT = 20_000


class CheckRequest(BaseModel):
    """One message to check (the input line of the check contract, with web-sized limits)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=_MAX_TEXT, description="The message as received.")
    sender: str | None = Field(default=None, max_length=64, description="Sender number or name.")
    received_at: dt.datetime | dt.date | None = Field(
        default=None, description="Receive time, ISO-8601; naive times are read as Beijing time."
    )
    timezone: IanaZone | None = Field(default=None, description="Recipient's IANA zone.")
    jurisdiction: str | None = Field(default=None, pattern="^(cn|us)$")


def _analyze(req: CheckRequest) -> CheckResult:
    return Analyzer.default().check(
        req.text,
        sender=req.sender,
        received_at=req.received_at,
        timezone=req.timezone,
        jurisdiction=req.jurisdiction,
    )


@api_router.post(
    "/check",
    response_model=CheckResult,
    summary="检查一条催收短信 / Check one collection message",
    description=(
        "返回机构、真伪、违规（含原文位置与条款）和下一步渠道，字段见 docs/contract.md。\n\n"
        "Returns the claimed organisation, authenticity, violations (spans into the original "
        "text, with the clause) and next steps with official channels — the contract of a "
        "check (docs/contract.md)."
    ),
    responses={422: {"description": "输入无效 / invalid input (see `detail`)"}},
)
def api_check(
    req: Annotated[
        CheckRequest,
        Body(
            openapi_examples={
                "threat": {
                    "summary": "夜间威胁 / a threat at night",
                    "value": {
                        "text": "【招联金融】您已逾期，再不还款将上门并通知你的家人和单位",
                        "sender": "10690000",
                        "received_at": "2026-01-14T23:15:00+08:00",
                    },
                }
            }
        ),
    ],
) -> CheckResult:
    try:
        return _analyze(req)
    except InputError as err:
        raise HTTPException(status_code=422, detail=str(err)) from None


@page_router.get("/", response_class=HTMLResponse)
def check_form(request: Request, db: DbSession) -> HTMLResponse:
    return render(request, "check.html.j2", {"form": {}}, user=current_user(request, db))


@page_router.get("/check", include_in_schema=False)
def check_get() -> RedirectResponse:
    """The verdict is the answer to a POST; a GET (reload, language switch) goes to the form."""
    return RedirectResponse("/", status_code=303)


@page_router.post("/check", response_class=HTMLResponse, dependencies=[Csrf])
def check_submit(
    request: Request,
    db: DbSession,
    text: Annotated[str, Form()] = "",
    sender: Annotated[str, Form()] = "",
    received_at: Annotated[str, Form()] = "",
) -> HTMLResponse:
    user = current_user(request, db)
    form = {"text": text, "sender": sender, "received_at": received_at}
    limit = context(request).settings.max_message_chars
    error: str | None = None
    if not text.strip():
        error = "check.error.empty"
    elif len(text) > limit:
        error = "check.error.too_long"
    else:
        try:
            req = CheckRequest(
                text=text,
                sender=sender.strip()[:64] or None,
                received_at=received_at.strip() or None,
            )
        except ValueError:
            error = "check.error.bad_time"
    if error is not None:
        return render(
            request,
            "check.html.j2",
            {"form": form, "error": error, "limit": limit},
            status_code=422,
            user=user,
        )
    try:
        result = _analyze(req)
    except InputError:
        return render(
            request,
            "check.html.j2",
            {"form": form, "error": "check.error.bad_input"},
            status_code=422,
            user=user,
        )
    values = verdict_values(result, text)
    values["form"] = form
    values["letters"] = verdict_letters(result)
    return render(request, "verdict.html.j2", values, user=user)


def verdict_values(result: CheckResult, text: str) -> dict[str, object]:
    return {
        "result": result,
        "segments": highlight(text, result.violations),
        "reasons": reasons(result),
    }


def verdict_letters(result: CheckResult) -> list[LetterChoice]:
    """The letters to offer under a verdict; none for a message that is neither collection,
    nor a violation, nor a suspected scam."""
    relevant = (
        result.is_collection
        or bool(result.violations)
        or result.authenticity in ("scam", "suspicious")
    )
    if not relevant:
        return []
    kinds = recommended_kinds(
        result.jurisdiction,
        scam=result.authenticity == "scam",
        codes={v.code for v in result.violations},
        severities={v.severity for v in result.violations},
        is_collection=result.is_collection,
    )
    return letter_choices(result.jurisdiction, kinds, scam=result.authenticity == "scam")


_BEIJING = ZoneInfo("Asia/Shanghai")


def parse_received_at(value: str) -> dt.datetime | None:
    """The form's receive time (``datetime-local``), Beijing time when it has no offset."""
    value = value.strip()
    if not value:
        return None
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=_BEIJING)


@page_router.post("/check/letter", dependencies=[Csrf], response_model=None)
def check_letter(
    request: Request,
    db: DbSession,
    kind: Annotated[str, Form(max_length=40)],
    fmt: Annotated[str, Form(max_length=8)] = "pdf",
    lang: Annotated[str, Form(max_length=8)] = "zh",
    text: Annotated[str, Form()] = "",
    sender: Annotated[str, Form(max_length=64)] = "",
    received_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A letter about one pasted message: the message is imported into a throw-away store
    (so the letter lists it with its hash like any case) that is deleted right after."""
    from collectguard.evidence import open_store
    from collectguard.evidence.history import build_cases
    from collectguard.evidence.ingest import Importer
    from collectguard.rules import load_builtin

    settings = context(request).settings
    spec = LETTER_KINDS.get(kind)
    if spec is None or fmt not in ("pdf", "docx"):
        raise HTTPException(status_code=400, detail="letter")
    if not text.strip() or len(text) > settings.max_message_chars:
        raise HTTPException(status_code=400, detail="text")
    try:
        when = parse_received_at(received_at)
    except ValueError:
        raise HTTPException(status_code=400, detail="received_at") from None
    zone = "Asia/Shanghai"
    folder = Path(tempfile.mkdtemp(prefix="cg-letter-"))
    try:
        store = open_store(f"sqlite:///{folder / 'evidence.sqlite3'}", attachments_dir=folder / "a")
        try:
            importer = Importer(store, Analyzer.default(), timezone=zone, clock=settings.clock)
            importer.import_text(  # one message, as the checker analysed it
                text, sender=sender.strip() or None, received_at=when, split=False
            )
            cases = build_cases(store, load_builtin("cn"), zone=zone, include_all=True)
            if not cases:
                raise HTTPException(status_code=400, detail="no case")
            case = cases[0]
            jurisdiction, choices = case_recommendation(store, case)
            if kind not in {c.kind for c in choices}:
                raise HTTPException(status_code=400, detail="letter")
            chosen_lang = lang if lang in spec.languages else spec.languages[0]
            try:
                return letter_response(
                    store,
                    case,
                    kind=kind,
                    lang=chosen_lang,
                    fmt=fmt,
                    jurisdiction=jurisdiction,
                    zone=zone,
                    now=settings.clock(),
                )
            except LetterUnavailable:
                raise HTTPException(status_code=503, detail="letter") from None
        finally:
            store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
