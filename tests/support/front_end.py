"""A stand-in for Cloud Run's front end, between Pub/Sub and the function in the restart test.

Cloud Run does not refuse a request while an instance restarts: it holds the request until
an instance is ready. Without that, every push during a restart fails, and Pub/Sub (the
emulator too) slows its pushes down for minutes. This reverse proxy does the same: each
request (one per connection) waits until the backend port accepts, and is sent again if the
backend closes the connection before answering (a request the function never took).
"""

from __future__ import annotations

import asyncio
import threading

from tests.support.servers import free_port


class HoldingFrontEnd:
    def __init__(self, backend_port: int, patience: float = 120.0) -> None:
        self.backend_port = backend_port
        self.port = free_port()
        self.patience = patience
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HoldingFrontEnd:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader)
            if request:
                writer.write(await self._forward(request))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(
            (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0
        )
        body = await reader.readexactly(length)
        # One request per connection, both ways: no keep-alive to juggle.
        kept = [line for line in lines[1:] if line and not line.lower().startswith("connection:")]
        return ("\r\n".join([lines[0], *kept, "Connection: close", "", ""])).encode("latin-1") + body

    async def _forward(self, request: bytes) -> bytes:
        deadline = self._loop.time() + self.patience
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
                writer.write(request)
                await writer.drain()
                response = await reader.read()
                writer.close()
                if response:
                    return response
            except ConnectionError:
                pass
            if self._loop.time() > deadline:
                return b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            await asyncio.sleep(0.1)  # no instance ready yet: hold the request
