"""/api/v1/devices: the devices whose captures the caller may read (for the timeline's picker)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from jarvis_contract import API_PREFIX
from jarvis_server.api.deps import CallerDep, SessionDep
from jarvis_server.api.openapi_docs import problems
from jarvis_server.models import Device

router = APIRouter(prefix=f"{API_PREFIX}/devices", tags=["devices"])


class DeviceList(BaseModel):
    devices: list[str]


@router.get(
    "",
    summary="Devices whose captures this token may read",
    response_model=DeviceList,
    responses=problems(401, 403, 503),
)
async def list_devices(session: SessionDep, caller: CallerDep) -> DeviceList:
    """A device token sees only itself; an admin token every device, by name."""
    if not caller.admin:
        return DeviceList(devices=[caller.device])
    names = await session.scalars(select(Device.name).order_by(Device.name))
    return DeviceList(devices=list(names))
