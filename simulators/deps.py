"""The world the routes act on, taken from the app state."""

from typing import Annotated

from fastapi import Depends, Request

from simulators.world import SimWorld


def get_world(request: Request) -> SimWorld:
    return request.app.state.world


World = Annotated[SimWorld, Depends(get_world)]
