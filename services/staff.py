"""Staff bearer tokens, minted by an admin."""

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import Role
from core.security import new_token, token_hash
from db.models import StaffToken


async def mint_token(session: AsyncSession, role: Role, created_by: str) -> tuple[str, str]:
    """A new token for a staff member of `role` and the staff id it names; only the token's hash is stored."""
    token, staff_id = new_token("stf"), f"{role}-{secrets.token_hex(6)}"
    session.add(StaffToken(token_hash=token_hash(token), role=role, staff_id=staff_id, created_by=created_by))
    await session.commit()
    return token, staff_id
