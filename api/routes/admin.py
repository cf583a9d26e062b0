"""Admin: mint staff tokens, register partners, maintain the course catalogue."""

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictInt

from api.audit import add_audit_detail
from api.deps import AdminDep, SessionDep, SettingsDep
from api.errors import problem_responses
from core.domain import PartnerKind, Role
from services import partners, staff

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=problem_responses(401, 403, 422))

MAX_PRICE = 1_000_000_000_000  # far above any course, well inside a JSON-safe integer


class CreateStaffTokenInput(BaseModel):
    role: Role


class StaffTokenResult(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored.")
    role: Role
    staff_id: str


class CreatePartnerInput(BaseModel):
    client_code: str = Field(pattern=r"^[A-Za-z0-9_-]{3,64}$")
    kind: PartnerKind
    name: str = Field(min_length=1, max_length=200)


class PartnerResult(BaseModel):
    client_code: str
    kind: PartnerKind
    name: str
    sign_key: str = Field(description="HMAC key, shown once; stored sealed.")


class CreateCourseInput(BaseModel):
    course_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    title: str = Field(min_length=1, max_length=300)
    provider_client_code: str = Field(min_length=1, max_length=64)
    price: Annotated[StrictInt, Field(gt=0, le=MAX_PRICE, description="Integer rupiah.")]


class CourseResult(CreateCourseInput):
    pass


@router.post("/staff-tokens", status_code=201, response_model=StaffTokenResult)
async def create_staff_token(
    body: CreateStaffTokenInput, admin: AdminDep, session: SessionDep, request: Request
) -> StaffTokenResult:
    """Mint a bearer token for a staff member of `role`; the token is returned once."""
    token, staff_id = await staff.mint_token(session, body.role, admin.staff_id)
    add_audit_detail(request, staff_id=staff_id, role=body.role.value)
    return StaffTokenResult(token=token, role=body.role, staff_id=staff_id)


@router.post("/partners", status_code=201, response_model=PartnerResult, responses=problem_responses(409))
async def create_partner(
    body: CreatePartnerInput, _: AdminDep, session: SessionDep, settings: SettingsDep, request: Request
) -> PartnerResult:
    """Register a partner and return its signing key (only this once); 409 `PARTNER_EXISTS` on a repeat."""
    add_audit_detail(request, client_code=body.client_code, kind=body.kind.value)
    cmd = partners.RegisterPartner(body.client_code, body.kind, body.name)
    sign_key = await partners.register_partner(session, cmd, settings.secret_key)
    return PartnerResult(client_code=body.client_code, kind=body.kind, name=body.name, sign_key=sign_key)


@router.post("/courses", status_code=201, response_model=CourseResult, responses=problem_responses(409))
async def create_course(body: CreateCourseInput, _: AdminDep, session: SessionDep, request: Request) -> CourseResult:
    """Add a catalogue course, approved (on sale) at once; an unchanged repeat is harmless, a changed one is
    409 `COURSE_EXISTS`."""
    add_audit_detail(request, course_id=body.course_id, provider_client_code=body.provider_client_code)
    await partners.list_course(session, partners.ListCourse(**body.model_dump()))
    return CourseResult(**body.model_dump())
