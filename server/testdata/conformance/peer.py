"""An independent WebSocket peer (Python websockets, Debian's 10.4) for logtaild.

Usage: peer.py SCENARIO URL [ARG]; prints one JSON object with what it saw.
The Go test (conformance_test.go) starts the daemon, runs a scenario and
checks the JSON.
"""
import asyncio
import json
import sys

import websockets


def report(**kw):
    print(json.dumps(kw), flush=True)


async def last_lines(url):
    """Read every message until the daemon closes (1000 after the last lines)."""
    got = []
    async with websockets.connect(url, max_size=None) as ws:
        try:
            async for msg in ws:
                got.append(msg)
        except websockets.ConnectionClosed:
            pass
        report(messages=[len(m) for m in got], text="".join(got)[:200],
               longest=max((len(l) for m in got for l in m.split("\n")), default=0),
               code=ws.close_code, reason=ws.close_reason)


async def follow(url, marker):
    """Follow, answer the daemon's pings (websockets does by itself), tell
    the test when ready, and wait for a line containing marker."""
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        report(ready=True)
        async for msg in ws:
            if marker in msg:
                report(got=msg.strip())
                break
        await ws.close()
        report(code=ws.close_code)


async def until_closed(url):
    """Follow and read until the daemon closes (1001 on shutdown)."""
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        report(ready=True)
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        report(code=ws.close_code, reason=ws.close_reason)


async def garbage(url):
    """Send a frame with a reserved opcode under the library's nose: the
    daemon must close with 1002."""
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        # a masked frame, opcode 3 (reserved), empty payload
        ws.transport.write(bytes([0x83, 0x80, 1, 2, 3, 4]))
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        report(code=ws.close_code, reason=ws.close_reason)


async def main():
    scenario, url = sys.argv[1], sys.argv[2]
    if scenario == "last":
        await last_lines(url)
    elif scenario == "follow":
        await follow(url, sys.argv[3])
    elif scenario == "until-closed":
        await until_closed(url)
    elif scenario == "garbage":
        await garbage(url)
    else:
        raise SystemExit("unknown scenario " + scenario)


asyncio.run(asyncio.wait_for(main(), 30))
