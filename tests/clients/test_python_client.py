"""The official Python MCP SDK (PyPI `mcp`, pinned by scripts/client-tests.sh) against the real
`virtualsms-mcp --sandbox` binary, launched as a subprocess exactly as a desktop client does.

Two client flows:
- the classic `ClientSession.initialize()` handshake (protocol 2025-xx), and
- the high-level `mcp.Client`, which starts with `server/discover` (protocol 2026-07-28).

Each lists the tools and calls several; every structured result must validate against the
tool's `outputSchema`. Then: a person confirms a purchase (VIRTUALSMS_CONFIRM_ABOVE) through the
SDK's elicitation callback — `elicitation/create` on the classic session, the `input_required`
result on the discover client — accepting and declining; prompts, resources and completion. Run: `python test_python_client.py BINARY [SCHEMA_FILE]`.
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
import mcp_types as types
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


# --- a person confirms purchases (VIRTUALSMS_CONFIRM_ABOVE), through the elicitation callback --


class Person:
    """The SDK's elicitation callback, answering `action` and recording the questions."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.questions: list[Any] = []

    async def __call__(self, context: Any, params: Any) -> types.ElicitResult:
        self.questions.append(params)
        if self.action != "accept":
            return types.ElicitResult(action=self.action)
        schema = params.requested_schema
        props = schema["properties"] if isinstance(schema, dict) else schema.properties
        values = {k: (v["default"] if isinstance(v, dict) else v.default) for k, v in props.items()}
        return types.ElicitResult(action="accept", content=values)


def confirm_all() -> StdioServerParameters:
    return server(VIRTUALSMS_CONFIRM_ABOVE="0")


def question_text(person: Person) -> str:
    assert len(person.questions) == 1, person.questions
    q = person.questions[0]
    return f"{q.message} {json.dumps(q.requested_schema if isinstance(q.requested_schema, dict) else q.requested_schema.model_dump())}"


async def test_classic_elicitation_accept_buys() -> None:
    person = Person("accept")
    async with stdio_client(confirm_all()) as (read, write), ClientSession(
        read, write, elicitation_callback=person
    ) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        result = await asyncio.wait_for(
            session.call_tool("create_order", {"service": "telegram", "country": "us"}), CALL_TIMEOUT
        )
        order = check_structured(tools, "create_order", result)
        asked = question_text(person)
        assert "telegram" in asked and f"${order['price']:.2f}" in asked, asked


async def test_classic_elicitation_decline_charges_nothing() -> None:
    person = Person("decline")
    async with stdio_client(confirm_all()) as (read, write), ClientSession(
        read, write, elicitation_callback=person
    ) as session:
        await session.initialize()
        before = (await session.call_tool("get_balance", {})).structured_content["balance"]
        result = await session.call_tool("create_order", {"service": "telegram", "country": "us"})
        assert result.is_error, result
        text = " ".join(c.text for c in result.content if c.type == "text")
        assert "declined" in text and "nothing was charged" in text, text
        after = (await session.call_tool("get_balance", {})).structured_content["balance"]
        assert after == before, (before, after)
        assert len(person.questions) == 1


async def test_classic_without_elicitation_is_refused_naming_the_setting() -> None:
    async with stdio_client(confirm_all()) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("create_order", {"service": "telegram", "country": "us"})
        assert result.is_error, result
        text = " ".join(c.text for c in result.content if c.type == "text")
        assert "VIRTUALSMS_CONFIRM_ABOVE" in text, text


async def test_discover_input_required_accept_buys() -> None:
    person = Person("accept")
    async with Client(confirm_all(), read_timeout_seconds=CALL_TIMEOUT, elicitation_callback=person) as client:
        assert client.protocol_version in MODERN_PROTOCOL_VERSIONS, client.protocol_version
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("create_order", {"service": "telegram", "country": "us"})
        order = check_structured(tools, "create_order", result)
        assert "telegram" in question_text(person)
        assert order["order_id"], order


async def test_discover_input_required_decline_charges_nothing() -> None:
    person = Person("decline")
    async with Client(confirm_all(), read_timeout_seconds=CALL_TIMEOUT, elicitation_callback=person) as client:
        result = await client.call_tool("create_order", {"service": "telegram", "country": "us"})
        assert result.is_error, result
        text = " ".join(c.text for c in result.content if c.type == "text")
        assert "declined" in text, text
        orders = (await client.call_tool("list_orders", {})).structured_content
        assert orders["data"] == [], orders


# --- prompts, resources, completion -----------------------------------------------------------


async def test_prompts_resources_and_completion() -> None:
    async with stdio_client(server()) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.capabilities.prompts is not None and init.capabilities.resources is not None
        icon = init.server_info.icons[0]
        assert icon.src.startswith("data:image/svg+xml;base64,"), icon
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        assert {"verify_account", "cheapest_number", "no_sms_arrived", "account_status"} <= set(prompts), prompts
        assert all(p.arguments for p in prompts.values()), prompts
        got = await session.get_prompt("verify_account", {"service": "telegram", "country": "us"})
        text = " ".join(m.content.text for m in got.messages if m.content.type == "text")
        assert "find_cheapest" in text and "create_order" in text and "wait_for_sms" in text, text

        uris = [str(r.uri) for r in (await session.list_resources()).resources]
        assert uris == ["virtualsms://guide", "virtualsms://balance"], uris
        balance = json.loads((await session.read_resource("virtualsms://balance")).contents[0].text)
        assert balance == (await session.call_tool("get_balance", {})).structured_content, balance
        templates = (await session.list_resource_templates()).resource_templates
        assert templates[0].uri_template == "virtualsms://orders/{order_id}", templates
        order = (await session.call_tool("create_order", {"service": "telegram", "country": "us"})).structured_content
        read_back = json.loads(
            (await session.read_resource(f"virtualsms://orders/{order['order_id']}")).contents[0].text
        )
        assert read_back == (
            await session.call_tool("get_order", {"order_id": order["order_id"]})
        ).structured_content

        done = await session.complete(types.PromptReference(name="verify_account"), {"name": "service", "value": "tele"})
        # The sandbox speaks REST v1 by default, whose service ids are codes (`tg` for Telegram).
        assert done.completion.values[0] == "tg", done.completion
        done = await session.complete(
            types.ResourceTemplateReference(uri="virtualsms://orders/{order_id}"), {"name": "order_id", "value": ""}
        )
        assert done.completion.values == [order["order_id"]], done.completion


TESTS = [
    test_classic_initialize_handshake,
    test_classic_list_and_call_tools,
    test_classic_error_result_and_unknown_tool,
    test_classic_read_only_hides_spending_tools,
    test_discover_client_lists_and_calls_tools,
    test_discover_client_error_result,
    test_server_exits_promptly_when_the_client_closes,
    test_classic_elicitation_accept_buys,
    test_classic_elicitation_decline_charges_nothing,
    test_classic_without_elicitation_is_refused_naming_the_setting,
    test_discover_input_required_accept_buys,
    test_discover_input_required_decline_charges_nothing,
    test_prompts_resources_and_completion,
]


def main() -> int:
    if not os.access(BINARY, os.X_OK):
        print(f"no executable at {BINARY}", file=sys.stderr)
        return 2
    return harness.run(f"Python mcp SDK client tests against {BINARY}", TESTS)


if __name__ == "__main__":
    sys.exit(main())
