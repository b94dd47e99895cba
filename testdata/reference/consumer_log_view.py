# The consumer from the log-tailer article logtail grew from (websoctet_lab/cousumer_log_view.py),
# unchanged except that log_message prints instead of using loguru, and the
# target comes from the command line. It must keep working against logtaild.
import asyncio
import sys

import websockets
from websockets.legacy.client import WebSocketClientProtocol


async def consumer_handler(websocket: WebSocketClientProtocol) -> None:
    async for message in websocket:
        log_message(message)
        if message == "ping":
            await websocket.send("pong")


async def cousume(hostname: str, port: int, log_file: str, tail: bool = True) -> None:
    websocket_resource_url = f"ws://{hostname}:{port}{log_file}"
    if tail:
        websocket_resource_url = f"{websocket_resource_url}?tail=1"
    async with websockets.connect(websocket_resource_url) as websocket:
        await consumer_handler(websocket)


def log_message(message: str) -> None:
    print(f"Message: {message}", flush=True)


if __name__ == "__main__":
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tail = len(sys.argv) < 5 or sys.argv[4] != "notail"
    asyncio.run(cousume(host, port, path, tail))
