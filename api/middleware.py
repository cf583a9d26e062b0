"""What the API's own ASGI middlewares share: HTTP only, and watching the response start."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware:
    """Acts on HTTP requests (`handle`); lifespan and websocket scopes pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class WatchedSend:
    """`send`, noting whether the response has started and its status (500 until then: what a crash answers),
    so a middleware knows whether it may still answer itself."""

    def __init__(self, send: Send) -> None:
        self.send, self.started, self.status = send, False, 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started, self.status = True, message["status"]
        await self.send(message)
