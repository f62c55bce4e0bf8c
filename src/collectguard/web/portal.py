"""The borrower portal and the staff dashboard of a lender running collectguard.

Owns: sign-in/out, a borrower's bills, progress, repayment-plan options (from the repayment
planner) and requests, contact preferences, complaints; the staff desk (complaints inbox,
plan requests, gateway decisions (read and verified by `decision_log`), the latest audit
runs (their pages are `audits`)).
Every borrower query is filtered by the signed-in user's id, so another borrower's ids
answer 404 exactly like ids that do not exist.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectguard import Analyzer
from collectguard.repayment.caps import CN_JUDICIAL_24
from collectguard.repayment.models import (
    BorrowerProfile,
    Debt,
    LenderPolicy,
    PlanProposal,
    PlanRequest,
)
from collectguard.web.audits import recent_runs
from collectguard.web.consumer import verdict_values
from collectguard.web.decision_log import gateway_summary, verify_decision_log
from collectguard.web.deps import (
    Borrower,
    Csrf,
    DbSession,
    Staff,
    context,
    current_user,
    flash,
    render,
)
from collectguard.web.models import (
    COMPLAINT_STATUSES,
    Bill,
    Complaint,
    ContactPreference,
    LenderMessage,
    PlanRequestRecord,
    User,
)
from collectguard.web.security import verify_password
from collectguard.web.settings import LENDER_ZONE

__all__ = ["COMPLAINT_CATEGORIES", "PLAN_DECISIONS", "router"]

router = APIRouter(include_in_schema=False)

PLAN_DECISIONS: tuple[str, ...] = ("approved", "declined")
COMPLAINT_CATEGORIES: tuple[str, ...] = (
    "collection_conduct",
    "billing",
    "plan",
    "privacy",
    "other",
)


def _safe_next(value: str) -> str:
    """Only same-site paths: never redirect a signed-in user to another origin."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/portal"


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ---------------------------------------------------------------- sign-in


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/portal") -> HTMLResponse:
    return render(request, "login.html.j2", {"next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse, dependencies=[Csrf])
def login_submit(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=512)] = "/portal",
) -> Response:
    ctx = context(request)
    client = request.client.host if request.client else "unknown"
    username = username.strip()
    if ctx.limiter.blocked(client, username):
        return render(
            request,
            "login.html.j2",
            {"next": _safe_next(next), "error": "login.error.rate_limited", "username": username},
            status_code=429,
        )
    user = db.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        ctx.limiter.failed(client, username)
        return render(
            request,
            "login.html.j2",
            {"next": _safe_next(next), "error": "login.error.invalid", "username": username},
            status_code=401,
        )
    ctx.limiter.succeeded(client, username)
    # A fresh session on sign-in: nothing from before (CSRF token included) carries over.
    request.session.clear()
    request.session["uid"] = user.id
    request.session["nonce"] = user.session_nonce
    default = "/staff" if user.role == "staff" else "/portal"
    target = _safe_next(next) if next not in ("", "/portal") else default
    return _redirect(target)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, db: DbSession) -> Response:
    user = current_user(request, db)
    if user is not None:
        user.session_nonce = secrets.token_urlsafe(24)
        db.commit()
    request.session.clear()
    return _redirect("/")


# ---------------------------------------------------------------- borrower


def _own_bill(db: Session, user: User, bill_id: int) -> Bill:
    bill = db.scalar(select(Bill).where(Bill.id == bill_id, Bill.user_id == user.id))
    if bill is None:
        raise HTTPException(status_code=404)
    return bill


@router.get("/portal", response_class=HTMLResponse)
def portal_home(request: Request, db: DbSession, user: Borrower) -> HTMLResponse:
    requests = db.scalars(
        select(PlanRequestRecord)
        .where(PlanRequestRecord.user_id == user.id)
        .order_by(PlanRequestRecord.id.desc())
    ).all()
    messages = db.scalars(
        select(LenderMessage)
        .where(LenderMessage.user_id == user.id)
        .order_by(LenderMessage.sent_at.desc())
    ).all()
    return render(
        request,
        "portal_home.html.j2",
        {"bills": user.bills, "plan_requests": requests, "messages": messages, "zone": LENDER_ZONE},
        user=user,
    )


@router.get("/portal/bills/{bill_id}", response_class=HTMLResponse)
def bill_detail(request: Request, db: DbSession, user: Borrower, bill_id: int) -> HTMLResponse:
    bill = _own_bill(db, user, bill_id)
    return render(request, "bill.html.j2", {"bill": bill}, user=user)


def _outstanding_debt(bill: Bill) -> Debt | None:
    """What is still owed, paid amounts applied to fees, then interest, then principal."""
    paid = bill.paid_cents
    fees = max(bill.fees_cents - paid, 0)
    paid = max(paid - bill.fees_cents, 0)
    interest = max(bill.interest_cents - paid, 0)
    paid = max(paid - bill.interest_cents, 0)
    principal = bill.principal_cents - paid
    if principal <= 0:
        return None
    return Debt(
        principal_cents=principal,
        interest_cents=interest,
        fees_cents=fees,
        loan_start=bill.loan_start,
    )


def _proposal(
    request: Request, bill: Bill, income_cents: int | None, expenses_cents: int | None
) -> PlanProposal | None:
    from collectguard.repayment.planner import plan

    debt = _outstanding_debt(bill)
    if debt is None:
        return None
    today = context(request).settings.clock().astimezone(LENDER_ZONE).date()
    profile = BorrowerProfile(
        monthly_income_cents=income_cents,
        monthly_expenses_cents=expenses_cents if income_cents is not None else None,
    )
    return plan(
        PlanRequest(
            as_of=today, debt=debt, borrower=profile, policy=LenderPolicy(cost_cap=CN_JUDICIAL_24)
        )
    )


def _cents(value: str) -> int | None:
    """A yuan amount typed by a person ('3500', '3,500.5') as cents; None when empty/invalid."""
    cleaned = value.replace(",", "").replace("，", "").strip()
    if not cleaned:
        return None
    try:
        amount = round(float(cleaned) * 100)
    except ValueError:
        return None
    return amount if 0 <= amount <= 10_000_000_000 else None


@router.get("/portal/bills/{bill_id}/plans", response_class=HTMLResponse)
def plan_options(
    request: Request,
    db: DbSession,
    user: Borrower,
    bill_id: int,
    income: str = "",
    expenses: str = "",
) -> HTMLResponse:
    bill = _own_bill(db, user, bill_id)
    proposal = _proposal(request, bill, _cents(income), _cents(expenses))
    return render(
        request,
        "plans.html.j2",
        {"bill": bill, "proposal": proposal, "income": income[:20], "expenses": expenses[:20]},
        user=user,
    )


@router.post("/portal/bills/{bill_id}/plans", dependencies=[Csrf])
def plan_request(
    request: Request,
    db: DbSession,
    user: Borrower,
    bill_id: int,
    term_months: Annotated[int, Form(ge=1, le=120)],
    income: Annotated[str, Form(max_length=20)] = "",
    expenses: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    bill = _own_bill(db, user, bill_id)
    # The figures are recomputed here, never taken from the form.
    proposal = _proposal(request, bill, _cents(income), _cents(expenses))
    chosen = (
        next((p for p in proposal.plans if p.term_months == term_months), None)
        if proposal
        else None
    )
    if chosen is None:
        raise HTTPException(status_code=400, detail="plan")
    db.add(
        PlanRequestRecord(
            user_id=user.id,
            bill_id=bill.id,
            term_months=chosen.term_months,
            monthly_amount_cents=chosen.monthly_amount_cents,
            total_paid_cents=chosen.total_paid_cents,
            waiver_cents=chosen.waiver_cents,
            status="pending",
            created_at=context(request).settings.clock(),
        )
    )
    db.commit()
    flash(request, "plans.requested")
    return _redirect("/portal")


@router.get("/portal/messages/{message_id}", response_class=HTMLResponse)
def message_detail(
    request: Request, db: DbSession, user: Borrower, message_id: int
) -> HTMLResponse:
    message = db.scalar(
        select(LenderMessage).where(
            LenderMessage.id == message_id, LenderMessage.user_id == user.id
        )
    )
    if message is None:
        raise HTTPException(status_code=404)
    result = Analyzer.default().check(
        message.text,
        sender=message.sender,
        received_at=message.sent_at,
        timezone=LENDER_ZONE.key,  # the borrower's zone: the portal serves one lender's market
    )
    values = verdict_values(result, message.text)
    values["message"] = message
    return render(request, "verdict.html.j2", values, user=user)


def _preferences(db: Session, user: User) -> ContactPreference:
    prefs = db.get(ContactPreference, user.id)
    if prefs is None:
        prefs = ContactPreference(
            user_id=user.id, sms=True, phone=True, email=False, app_push=True,
            hour_start=9, hour_end=20, opt_out=False,
        )  # fmt: skip
        db.add(prefs)
        db.flush()
    return prefs


@router.get("/portal/preferences", response_class=HTMLResponse)
def preferences_form(request: Request, db: DbSession, user: Borrower) -> HTMLResponse:
    prefs = _preferences(db, user)
    db.commit()
    return render(request, "preferences.html.j2", {"prefs": prefs}, user=user)


@router.post("/portal/preferences", dependencies=[Csrf])
def preferences_submit(
    request: Request,
    db: DbSession,
    user: Borrower,
    hour_start: Annotated[int, Form(ge=8, le=21)] = 9,
    hour_end: Annotated[int, Form(ge=9, le=22)] = 20,
    sms: Annotated[bool, Form()] = False,
    phone: Annotated[bool, Form()] = False,
    email: Annotated[bool, Form()] = False,
    app_push: Annotated[bool, Form()] = False,
    opt_out: Annotated[bool, Form()] = False,
) -> Response:
    if hour_end <= hour_start:
        raise HTTPException(status_code=400, detail="hours")
    prefs = _preferences(db, user)
    prefs.sms, prefs.phone, prefs.email, prefs.app_push = sms, phone, email, app_push
    prefs.hour_start, prefs.hour_end, prefs.opt_out = hour_start, hour_end, opt_out
    settings = context(request).settings
    prefs.updated_at = settings.clock()
    db.commit()
    if settings.on_contact_preferences is not None:
        from collectguard.web.consent import contact_profile

        settings.on_contact_preferences(user.username, contact_profile(prefs))
    flash(request, "prefs.saved")
    return _redirect("/portal/preferences")


@router.get("/portal/complaints", response_class=HTMLResponse)
def complaints(request: Request, db: DbSession, user: Borrower) -> HTMLResponse:
    mine = db.scalars(
        select(Complaint).where(Complaint.user_id == user.id).order_by(Complaint.id.desc())
    ).all()
    return render(
        request,
        "complaints.html.j2",
        {"complaints": mine, "categories": COMPLAINT_CATEGORIES, "zone": LENDER_ZONE},
        user=user,
    )


@router.post("/portal/complaints", dependencies=[Csrf])
def complaint_submit(
    request: Request,
    db: DbSession,
    user: Borrower,
    category: Annotated[str, Form(max_length=32)],
    subject: Annotated[str, Form(min_length=1, max_length=200)],
    body: Annotated[str, Form(min_length=1, max_length=5000)],
) -> Response:
    if category not in COMPLAINT_CATEGORIES:
        raise HTTPException(status_code=400, detail="category")
    db.add(
        Complaint(
            user_id=user.id,
            category=category,
            subject=subject.strip(),
            body=body.strip(),
            status="open",
            created_at=context(request).settings.clock(),
        )
    )
    db.commit()
    flash(request, "complaints.sent")
    return _redirect("/portal/complaints")


@router.get("/portal/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_detail(
    request: Request, db: DbSession, user: Borrower, complaint_id: int
) -> HTMLResponse:
    complaint = db.scalar(
        select(Complaint).where(Complaint.id == complaint_id, Complaint.user_id == user.id)
    )
    if complaint is None:
        raise HTTPException(status_code=404)
    return render(
        request, "complaint.html.j2", {"complaint": complaint, "zone": LENDER_ZONE}, user=user
    )


# ---------------------------------------------------------------- staff


@router.get("/staff", response_class=HTMLResponse)
def staff_inbox(request: Request, db: DbSession, user: Staff, status: str = "") -> HTMLResponse:
    query = select(Complaint).order_by(Complaint.id.desc())
    if status in COMPLAINT_STATUSES:
        query = query.where(Complaint.status == status)
    items = db.scalars(query).all()
    pending_plans = db.scalars(
        select(PlanRequestRecord).where(PlanRequestRecord.status == "pending")
    ).all()
    return render(
        request,
        "staff.html.j2",
        {
            "gateway": gateway_summary(context(request).settings),
            "complaints": items,
            "status": status,
            "statuses": COMPLAINT_STATUSES,
            "pending_plans": pending_plans,
            "audits": recent_runs(db, limit=5),
            "zone": LENDER_ZONE,
        },
        user=user,
    )


@router.post("/staff/complaints/{complaint_id}", dependencies=[Csrf])
def staff_update(
    request: Request,
    db: DbSession,
    user: Staff,
    complaint_id: int,
    status: Annotated[str, Form(max_length=16)],
    staff_note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    complaint = db.get(Complaint, complaint_id)
    if complaint is None:
        raise HTTPException(status_code=404)
    if status not in COMPLAINT_STATUSES:
        raise HTTPException(status_code=400, detail="status")
    complaint.status = status
    complaint.staff_note = staff_note.strip() or complaint.staff_note
    db.commit()
    flash(request, "staff.updated")
    return _redirect("/staff")


@router.post("/staff/plan-requests/{request_id}", dependencies=[Csrf])
def staff_plan_decision(
    request: Request,
    db: DbSession,
    user: Staff,
    request_id: int,
    decision: Annotated[str, Form(max_length=16)],
) -> Response:
    record = db.get(PlanRequestRecord, request_id)
    if record is None:
        raise HTTPException(status_code=404)
    if decision not in PLAN_DECISIONS or record.status != "pending":
        raise HTTPException(status_code=400, detail="decision")
    record.status = decision
    db.commit()
    flash(request, "staff.plan_decided")
    return _redirect("/staff")


@router.post("/staff/gateway/verify", dependencies=[Csrf])
def staff_verify_decision_log(request: Request, user: Staff) -> Response:
    """Verify the gateway's whole decision log from its first entry (page views check only
    what is new); the staff desk then shows the result."""
    if verify_decision_log(context(request).settings) is None:
        raise HTTPException(status_code=404)
    flash(request, "staff.chain_verified")
    return _redirect("/staff#gw-head")
