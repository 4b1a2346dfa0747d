"""The official Python MCP SDK (PyPI `mcp`, pinned by scripts/client-tests.sh) against the real
`virtualsms-mcp --sandbox` binary, launched as a subprocess exactly as a desktop client does.

Two client flows:
- the classic `ClientSession.initialize()` handshake (protocol 2025-xx), and
- the high-level `mcp.Client`, which starts with `server/discover` (protocol 2026-07-28).

Each lists the tools and calls several; every structured result must validate against the
tool's `outputSchema`. Run: `python test_python_client.py BINARY [SCHEMA_FILE]`.
Self-contained runner (no pytest needed); the last line is `N passed, N failed`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import jsonschema
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

import harness

ROOT = Path(__file__).resolve().parents[2]
BINARY = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/virtualsms-mcp")
SCHEMA_FILE = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tools.schema.json"
EXPECTED = json.loads(SCHEMA_FILE.read_text())["tools"]
EXPECTED_NAMES = sorted(t["name"] for t in EXPECTED)
# A call must never take this long in the sandbox; a hang fails the test instead of CI.
CALL_TIMEOUT = 30


def server(*extra_args: str, **extra_env: str) -> StdioServerParameters:
    """The binary in sandbox mode, with SMS arriving after 1 s. The SDK merges `env` over a
    minimal environment, so nothing from the caller's VIRTUALSMS_* leaks in."""
    env = {"VIRTUALSMS_SANDBOX_SMS_DELAY": "1", "VIRTUALSMS_LOG": "warn", **extra_env}
    return StdioServerParameters(command=BINARY, args=["--sandbox", *extra_args], env=env)


def check_structured(tools: dict[str, Any], name: str, result: Any) -> dict[str, Any]:
    """A successful result with structured content valid against the tool's outputSchema."""
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    assert not result.is_error, f"{name} failed: {texts}"
    data = result.structured_content
    assert isinstance(data, dict), f"{name}: no structured content ({texts})"
    schema = tools[name].output_schema
    assert schema, f"{name} has no outputSchema"
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert any("[sandbox]" in t for t in texts), f"{name}: the sandbox notice is missing"
    return data


def check_listing(listed: list[Any]) -> dict[str, Any]:
    names = sorted(t.name for t in listed)
    assert names == EXPECTED_NAMES, f"tools/list {names} != tools.schema.json {EXPECTED_NAMES}"
    by_name = {t.name: t for t in listed}
    for want in EXPECTED:
        got = by_name[want["name"]]
        assert got.input_schema == want["inputSchema"], f"{got.name}: inputSchema differs"
        assert got.output_schema == want["outputSchema"], f"{got.name}: outputSchema differs"
        assert got.title == want["title"], f"{got.name}: title {got.title!r}"
        jsonschema.Draft202012Validator.check_schema(got.input_schema)
        jsonschema.Draft202012Validator.check_schema(got.output_schema)
    return by_name


async def buy_and_receive(call: Callable[..., Awaitable[Any]], tools: dict[str, Any]) -> None:
    """The recommended flow, end to end: find_cheapest → create_order → wait_for_sms →
    confirm_order, with get_balance before and after."""
    before = check_structured(tools, "get_balance", await call("get_balance", {}))
    cheapest = check_structured(
        tools, "find_cheapest", await call("find_cheapest", {"service": "telegram", "country": "us"})
    )
    assert cheapest["price"] > 0, cheapest
    order = check_structured(
        tools, "create_order", await call("create_order", {"service": "telegram", "country": "us"})
    )
    assert order["order_id"] and order["phone_number"], order
    started = time.monotonic()
    sms = check_structured(
        tools,
        "wait_for_sms",
        await call("wait_for_sms", {"order_id": order["order_id"], "timeout_seconds": 20}),
    )
    waited = time.monotonic() - started
    assert waited < 10, f"wait_for_sms took {waited:.1f}s with a 1 s sandbox delay"
    assert sms["outcome"] == "received" and sms.get("code"), sms
    check_structured(tools, "confirm_order", await call("confirm_order", {"order_id": order["order_id"]}))
    after = check_structured(tools, "get_balance", await call("get_balance", {}))
    assert after["balance"] < before["balance"], (before, after)


# --- the classic initialize handshake -------------------------------------------------------


async def test_classic_initialize_handshake() -> None:
    async with stdio_client(server()) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "virtualsms-mcp", init.server_info
        assert init.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS, init.protocol_version
        assert init.capabilities.tools is not None, init.capabilities
        assert "SANDBOX" in (init.instructions or ""), init.instructions


async def test_classic_list_and_call_tools() -> None:
    async with stdio_client(server()) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = check_listing((await session.list_tools()).tools)

        async def call(name: str, args: dict[str, Any]) -> Any:
            return await asyncio.wait_for(session.call_tool(name, args), CALL_TIMEOUT)

        await buy_and_receive(call, tools)
        check_structured(tools, "list_services", await call("list_services", {"query": "tele", "limit": 5}))
        check_structured(tools, "list_orders", await call("list_orders", {}))


async def test_classic_error_result_and_unknown_tool() -> None:
    async with stdio_client(server()) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("get_order", {"order_id": "ord_does_not_exist"})
        assert result.is_error, result
        text = " ".join(c.text for c in result.content if c.type == "text")
        assert "list_orders" in text, text
        assert result.structured_content is None, result.structured_content
        try:
            await session.call_tool("no_such_tool", {})
        except MCPError as e:
            assert e.error.code == -32602, e.error
        else:
            raise AssertionError("an unknown tool must be a JSON-RPC error")


async def test_classic_read_only_hides_spending_tools() -> None:
    params = server(VIRTUALSMS_READ_ONLY="1")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = (await session.list_tools()).tools
        assert 0 < len(listed) < len(EXPECTED_NAMES), [t.name for t in listed]
        assert all(t.annotations and t.annotations.read_only_hint for t in listed)
        assert "create_order" not in {t.name for t in listed}


# --- the high-level client: server/discover -------------------------------------------------


async def test_discover_client_lists_and_calls_tools() -> None:
    async with Client(server(), read_timeout_seconds=CALL_TIMEOUT) as client:
        assert client.protocol_version in MODERN_PROTOCOL_VERSIONS, client.protocol_version
        assert client.server_capabilities.tools is not None
        tools = check_listing((await client.list_tools()).tools)

        async def call(name: str, args: dict[str, Any]) -> Any:
            return await asyncio.wait_for(client.call_tool(name, args), CALL_TIMEOUT)

        await buy_and_receive(call, tools)
        check_structured(tools, "country_pricing", await call("country_pricing", {"country": "us"}))
        check_structured(tools, "get_profile", await call("get_profile", {}))


async def test_discover_client_error_result() -> None:
    async with Client(server(), read_timeout_seconds=CALL_TIMEOUT) as client:
        result = await client.call_tool("cancel_order", {"order_id": "ord_nope"})
        assert result.is_error, result
        assert result.structured_content is None


async def test_server_exits_promptly_when_the_client_closes() -> None:
    started = time.monotonic()
    async with stdio_client(server()) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        opened = time.monotonic()
    # The SDK closes stdin, then waits 2 s before SIGTERM: a server that exits on EOF is quicker.
    closed = time.monotonic() - opened
    assert closed < 1.5, f"the server took {closed:.2f}s to exit after stdin closed"
    assert time.monotonic() - started < 10


TESTS = [
    test_classic_initialize_handshake,
    test_classic_list_and_call_tools,
    test_classic_error_result_and_unknown_tool,
    test_classic_read_only_hides_spending_tools,
    test_discover_client_lists_and_calls_tools,
    test_discover_client_error_result,
    test_server_exits_promptly_when_the_client_closes,
]


def main() -> int:
    if not os.access(BINARY, os.X_OK):
        print(f"no executable at {BINARY}", file=sys.stderr)
        return 2
    return harness.run(f"Python mcp SDK client tests against {BINARY}", TESTS)


if __name__ == "__main__":
    sys.exit(main())
