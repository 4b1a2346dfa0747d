"""The official Python MCP SDK (PyPI `mcp`, pinned by scripts/http-tests.sh) over Streamable HTTP
against the real `virtualsms-mcp --sandbox http` binary, the way a remote agent reaches it.

One server process for all tests (`--listen 127.0.0.1:0`, its URL read from its log), with SMS
arriving after 1 s and a spend limit of $100 per key. Each client sends its own key; in the
sandbox every key is a simulated account of its own.
- the classic `ClientSession.initialize()` handshake (a session, protocol 2025-xx), key as
  `Authorization: Bearer`: find_cheapest → create_order → wait_for_sms → confirm_order;
- the high-level `mcp.Client` (`server/discover`, protocol 2026-07-28, stateless), key as
  `x-api-key`: find_cheapest → create_order → cancel_order (held 120 s, as live) →
  wait_for_sms → confirm_order;
- two keys share nothing: not each other's orders, balances or spending budgets;
- no key: only the discovery tools are listed, any other tool is refused, and a tool that needs
  a key says to send one with the request.
Every structured result validates against the tool's `outputSchema`.

Run: `python test_http_client.py BINARY`. Self-contained runner (no pytest needed); the last
line is `N passed, N failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

import jsonschema
from mcp import Client, ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

import harness

ROOT = Path(__file__).resolve().parents[2]
BINARY = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/virtualsms-mcp")
CALL_TIMEOUT = 30
SPEND_LIMIT = 100.0
DISCOVERY = ["country_pricing", "find_cheapest", "list_countries", "list_services", "service_availability"]
URL = ""  # set by main() once the server is up


def start_server() -> tuple[subprocess.Popen[str], str, list[str]]:
    """The binary in sandbox HTTP mode on a free port; returns it, its /mcp URL, and its log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUALSMS_")}
    env.update(
        VIRTUALSMS_SANDBOX_SMS_DELAY="1",
        VIRTUALSMS_SPEND_LIMIT=str(SPEND_LIMIT),
        VIRTUALSMS_LOG="info",
    )
    proc = subprocess.Popen(
        [BINARY, "--sandbox", "http", "--listen", "127.0.0.1:0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    deadline = time.monotonic() + 15
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"the server exited: {''.join(log)}")
        log.append(line)
        found = re.search(r"Streamable HTTP at (http://\S+)", line)
        if found:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()
            return proc, found.group(1), log
    raise RuntimeError(f"the server did not start: {''.join(log)}")


@contextlib.asynccontextmanager
async def classic(headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialized classic session (Streamable HTTP, Mcp-Session-Id) sending `headers`."""
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(URL, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.server_info.name == "virtualsms-mcp", init.server_info
        assert init.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS, init.protocol_version
        yield session


@contextlib.asynccontextmanager
async def discover(headers: dict[str, str]) -> AsyncIterator[Client]:
    """The high-level client (server/discover, stateless 2026-07-28) sending `headers`."""
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(URL, http_client=http)) as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def check_structured(tools: dict[str, Any], name: str, result: Any) -> dict[str, Any]:
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    assert not result.is_error, f"{name} failed: {texts}"
    data = result.structured_content
    assert isinstance(data, dict), f"{name}: no structured content ({texts})"
    jsonschema.validate(data, tools[name].output_schema, cls=jsonschema.Draft202012Validator)
    return data


async def listed(session: Any) -> dict[str, Any]:
    return {t.name: t for t in (await session.list_tools()).tools}


async def call(session: Any, name: str, args: dict[str, Any]) -> Any:
    return await asyncio.wait_for(session.call_tool(name, args), CALL_TIMEOUT)


async def test_classic_session_buys_waits_and_confirms() -> None:
    async with classic(bearer("sk_http_py_classic_0001")) as s:
        tools = await listed(s)
        assert len(tools) == 18, sorted(tools)
        before = check_structured(tools, "get_balance", await call(s, "get_balance", {}))
        cheapest = check_structured(
            tools, "find_cheapest", await call(s, "find_cheapest", {"service": "telegram", "country": "us"})
        )
        assert cheapest["price"] > 0, cheapest
        order = check_structured(
            tools, "create_order", await call(s, "create_order", {"service": "telegram", "country": "us"})
        )
        sms = check_structured(
            tools, "wait_for_sms", await call(s, "wait_for_sms", {"order_id": order["order_id"], "timeout_seconds": 20})
        )
        assert sms["outcome"] == "received" and sms.get("code"), sms
        check_structured(tools, "confirm_order", await call(s, "confirm_order", {"order_id": order["order_id"]}))
        after = check_structured(tools, "get_balance", await call(s, "get_balance", {}))
        assert after["balance"] < before["balance"], (before, after)


async def test_discover_client_buys_waits_and_confirms() -> None:
    async with discover({"x-api-key": "sk_http_py_discover_0002"}) as c:
        tools = await listed(c)
        assert len(tools) == 18, sorted(tools)
        check_structured(tools, "find_cheapest", await call(c, "find_cheapest", {"service": "telegram"}))
        order = check_structured(
            tools, "create_order", await call(c, "create_order", {"service": "telegram", "country": "us"})
        )
        # The sandbox speaks v1, which holds a number 120 s before it can be cancelled (as live).
        held = await call(c, "cancel_order", {"order_id": order["order_id"]})
        assert held.is_error and "120 s" in held.content[0].text, held
        sms = check_structured(
            tools, "wait_for_sms", await call(c, "wait_for_sms", {"order_id": order["order_id"], "timeout_seconds": 20})
        )
        assert sms["outcome"] == "received", sms
        check_structured(tools, "confirm_order", await call(c, "confirm_order", {"order_id": order["order_id"]}))


async def test_two_keys_share_no_orders_balances_or_budgets() -> None:
    async with classic(bearer("sk_http_py_alice_0003")) as alice, classic(bearer("sk_http_py_bob_0004")) as bob:
        tools = await listed(alice)
        bob_before = check_structured(tools, "get_balance", await call(bob, "get_balance", {}))
        order = check_structured(
            tools, "create_order", await call(alice, "create_order", {"service": "telegram", "country": "us"})
        )
        price = SPEND_LIMIT - order["budget_left"]
        assert price > 0, order
        # Bob sees none of Alice's orders, and cannot read hers by id.
        bobs = check_structured(tools, "list_orders", await call(bob, "list_orders", {}))
        assert all(o["order_id"] != order["order_id"] for o in bobs["data"]), bobs
        result = await call(bob, "get_order", {"order_id": order["order_id"]})
        assert result.is_error, result
        # Alice's purchase spent neither Bob's balance nor Bob's budget.
        bob_after = check_structured(tools, "get_balance", await call(bob, "get_balance", {}))
        assert bob_after["balance"] == bob_before["balance"], (bob_before, bob_after)
        bob_order = check_structured(
            tools, "create_order", await call(bob, "create_order", {"service": "telegram", "country": "us"})
        )
        assert abs(bob_order["budget_left"] - (SPEND_LIMIT - price)) < 1e-6, bob_order
        alice_orders = check_structured(tools, "list_orders", await call(alice, "list_orders", {}))
        assert [o["order_id"] for o in alice_orders["data"]] == [order["order_id"]], alice_orders


async def test_no_key_lists_discovery_tools_only() -> None:
    async with classic({}) as s:
        tools = await listed(s)
        assert sorted(tools) == DISCOVERY, sorted(tools)
        # The sandbox speaks v1 (as live), where even discovery needs a key: the advice is to
        # send one with the request.
        result = await call(s, "list_services", {"query": "tele"})
        assert result.is_error and "Authorization: Bearer" in result.content[0].text, result
        try:
            result = await call(s, "get_balance", {})
        except MCPError as e:
            assert e.error.code == -32602, e.error
        else:
            raise AssertionError(f"get_balance must be refused without a key: {result}")
    async with discover({}) as c:
        assert sorted(t.name for t in (await c.list_tools()).tools) == DISCOVERY


TESTS = [
    test_classic_session_buys_waits_and_confirms,
    test_discover_client_buys_waits_and_confirms,
    test_two_keys_share_no_orders_balances_or_budgets,
    test_no_key_lists_discovery_tools_only,
]


def main() -> int:
    global URL
    if not os.access(BINARY, os.X_OK):
        print(f"no executable at {BINARY}", file=sys.stderr)
        return 2
    proc, URL, log = start_server()
    try:
        rc = harness.run(f"Python mcp SDK over Streamable HTTP against {BINARY} at {URL}", TESTS)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed after 10 s"
    if code != 0:
        print(f"the server did not exit 0 on SIGTERM: {code}\n{''.join(log)}", flush=True)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
