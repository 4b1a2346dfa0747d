"""smithery.yaml as Smithery uses it: configSchema must be valid JSON Schema that accepts
exampleConfig; commandFunction (evaluated by node, as Smithery does) must launch
`npx -y virtualsms-mcp` and set only environment variables the binary reads; and the binary,
started with that environment, must accept it and serve MCP.

Run: `python test_smithery.py BINARY`. The last line is `N passed, N failed`.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from mcp import ClientSession, StdioServerParameters, stdio_client

import harness

ROOT = Path(__file__).resolve().parents[2]
BINARY = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/virtualsms-mcp")
SMITHERY = yaml.safe_load((ROOT / "smithery.yaml").read_text())
START = SMITHERY["startCommand"]


def env_names_the_binary_reads() -> set[str]:
    """The constants of the `env` module in src/config.rs (every variable the binary reads)."""
    source = (ROOT / "src/config.rs").read_text()
    names = set(re.findall(r'pub const [A-Z_]+: &str = "(VIRTUALSMS_[A-Z0-9_]+)";', source))
    assert "VIRTUALSMS_API_KEY" in names, names
    return names


def command_for(config: dict[str, Any]) -> dict[str, Any]:
    """Evaluates commandFunction with node, the way Smithery does."""
    script = "const f = eval(process.argv[1]); process.stdout.write(JSON.stringify(f(JSON.parse(process.argv[2]))));"
    out = subprocess.run(
        ["node", "-e", script, START["commandFunction"], json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def test_start_command_is_stdio() -> None:
    assert START["type"] == "stdio", START["type"]


def test_config_schema_is_valid_json_schema() -> None:
    schema = START["configSchema"]
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["required"] == ["apiKey"], schema["required"]
    api_key = schema["properties"]["apiKey"]
    assert api_key["type"] == "string" and api_key.get("writeOnly") is True, api_key
    for optional in ("baseUrl", "maxOrderPrice", "spendLimit", "readOnly"):
        assert optional in schema["properties"], optional


def test_example_config_validates_and_bad_configs_do_not() -> None:
    schema = START["configSchema"]
    jsonschema.validate(START["exampleConfig"], schema, cls=jsonschema.Draft7Validator)
    for bad in ({}, {"apiKey": ""}, {"apiKey": "k", "spendLimit": -1}, {"apiKey": "k", "baseUrl": "ftp://x"}):
        try:
            jsonschema.validate(bad, schema, cls=jsonschema.Draft7Validator)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"configSchema accepted {bad}")


def test_command_function_launches_npx_with_known_env() -> None:
    known = env_names_the_binary_reads()
    full = {"apiKey": "sk_live_xxx", "baseUrl": "https://example.test/api/v2", "maxOrderPrice": 0.5, "spendLimit": 5, "readOnly": True}
    for config in (START["exampleConfig"], {"apiKey": "sk_live_xxx"}, full):
        command = command_for(config)
        assert command["command"] == "npx", command
        assert command["args"] == ["-y", "virtualsms-mcp"], command
        env = command["env"]
        assert env["VIRTUALSMS_API_KEY"] == config["apiKey"], env
        assert all(isinstance(v, str) for v in env.values()), env
        unknown = set(env) - known
        assert not unknown, f"commandFunction sets variables the binary never reads: {unknown}"
    full_env = command_for(full)["env"]
    assert full_env == {
        "VIRTUALSMS_API_KEY": "sk_live_xxx",
        "VIRTUALSMS_BASE_URL": "https://example.test/api/v2",
        "VIRTUALSMS_MAX_ORDER_PRICE": "0.5",
        "VIRTUALSMS_SPEND_LIMIT": "5",
        "VIRTUALSMS_READ_ONLY": "1",
    }, full_env


async def list_tools_with(env: dict[str, str]) -> list[Any]:
    params = StdioServerParameters(command=BINARY, args=[], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "virtualsms-mcp"
        return (await session.list_tools()).tools


async def test_binary_accepts_the_generated_env() -> None:
    """The npx command resolves to this binary; started with the env commandFunction builds (no
    request leaves the machine: initialize and tools/list make none), it serves MCP, and
    readOnly really hides the spending tools."""
    example = command_for(START["exampleConfig"])["env"]
    tools = await list_tools_with(example)
    assert len(tools) == len(json.loads((ROOT / "tools.schema.json").read_text())["tools"])
    read_only = command_for({**START["exampleConfig"], "readOnly": True})["env"]
    tools = await list_tools_with(read_only)
    assert tools and all(t.annotations.read_only_hint for t in tools), [t.name for t in tools]


TESTS = [
    test_start_command_is_stdio,
    test_config_schema_is_valid_json_schema,
    test_example_config_validates_and_bad_configs_do_not,
    test_command_function_launches_npx_with_known_env,
    test_binary_accepts_the_generated_env,
]

if __name__ == "__main__":
    sys.exit(harness.run("smithery.yaml checks", TESTS))
