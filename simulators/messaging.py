"""The SMS gateway that delivers applicants' one-time codes, and a control endpoint to read them back (the
demo's and the tests' stand-in for the applicant's phone)."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

router = APIRouter(tags=["messaging"])


class SmsIn(BaseModel):
    to: str = Field(min_length=3, max_length=32)
    text: str = Field(min_length=1, max_length=480)


def _outbox(request: Request) -> list[dict[str, Any]]:
    state = request.app.state
    if not hasattr(state, "sms_outbox"):
        state.sms_outbox = []
    outbox: list[dict[str, Any]] = state.sms_outbox
    return outbox


@router.post("/messaging/sms", status_code=202)
async def send_sms(body: SmsIn, request: Request) -> dict[str, bool]:
    """The gateway accepts a message for delivery."""
    _outbox(request).append({"to": body.to, "text": body.text, "sent_at": datetime.now(UTC).isoformat()})
    return {"accepted": True}


@router.get("/sim/messages")
async def messages(to: str, request: Request) -> list[dict[str, Any]]:
    """What the gateway delivered to one phone number, oldest first (the code is in the text)."""
    return [m for m in _outbox(request) if m["to"] == to]
