"""The MCP Inspector CLI (npm `@modelcontextprotocol/inspector`, pinned by
scripts/client-tests.sh) against the real binary:
- `tools/list --strict` (exit 6 on error-severity schema portability problems) and `tools/call`;
- tool selection (`--tools`, `VIRTUALSMS_EXCLUDE_TOOLS`, an unknown name) as Inspector sees it;
- every client config snippet of the README (examples/clients/*, which the README embeds
  verbatim — tests/distribution.rs checks that), loaded the way a user pastes it. Each is copied
  to a temp file with `npx -y virtualsms-mcp` rewritten to the built binary (the npm package is
  not published from CI; scripts/npm-pack.sh proves the npx path separately). Formats Inspector
  does not read are converted faithfully: VS Code's `servers` → `mcpServers` (with the
  `${input:..}` prompt answered), Codex's TOML → JSON, `claude mcp add` / `codex mcp add`
  lines → their command and `-e` environment.

Run: `python test_inspector.py BINARY INSPECTOR`. The last line is `N passed, N failed`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import harness

ROOT = Path(__file__).resolve().parents[2]
BINARY = sys.argv[1]
INSPECTOR = sys.argv[2]
EXAMPLES = ROOT / "examples/clients"
TOOL_NAMES = sorted(t["name"] for t in json.loads((ROOT / "tools.schema.json").read_text())["tools"])
KNOWN_ENV = set(re.findall(r'pub const [A-Z_]+: &str = "(VIRTUALSMS_[A-Z0-9_]+)";', (ROOT / "src/config.rs").read_text()))
SCRATCH = Path(tempfile.mkdtemp(prefix="virtualsms-inspector-"))
# Inspector keeps a catalog and client settings under $HOME; keep the real HOME untouched.
INSPECTOR_ENV = {
    **os.environ,
    "HOME": str(SCRATCH),
    "MCP_INSPECTOR_SECRET_STORE": "memory",
}


def inspector(*args: str, expect_rc: int = 0) -> Any:
    cmd = [INSPECTOR, "--cli", *args, "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=INSPECTOR_ENV)
    assert out.returncode == expect_rc, (
        f"{shlex.join(cmd)} exited {out.returncode} (expected {expect_rc})\n"
        f"stdout: {out.stdout[-2000:]}\nstderr: {out.stderr[-4000:]}"
    )
    return json.loads(out.stdout)


def listed_names(reply: Any) -> list[str]:
    return sorted(t["name"] for t in reply["result"]["tools"]) if "result" in reply else sorted(t["name"] for t in reply["tools"])


# --- ad hoc: the binary on the command line ---------------------------------------------------


def test_strict_tools_list() -> None:
    reply = inspector(BINARY, "--sandbox", "--method", "tools/list", "--strict")
    assert listed_names(reply) == TOOL_NAMES, listed_names(reply)


def test_tools_call_structured_result() -> None:
    reply = inspector(
        BINARY, "--sandbox", "--method", "tools/call", "--tool-name", "find_cheapest",
        "--tool-args-json", '{"service": "telegram", "country": "us"}',
    )
    result = reply["result"]
    assert result["isError"] is False, result
    assert result["structuredContent"]["price"] > 0, result
    assert result["structuredContent"]["country"] == "us", result


def test_tools_call_error_result() -> None:
    reply = inspector(
        BINARY, "--sandbox", "--method", "tools/call", "--tool-name", "get_order",
        "--tool-args-json", '{"order_id": "ord_missing"}',
        expect_rc=5,  # Inspector's exit code for an isError result
    )
    result = reply["result"]
    assert result["isError"] is True, result
    assert "list_orders" in result["content"][0]["text"], result


# --- the README's snippets, as users paste them ---------------------------------------------


def rewrite_launch(command: str, args: list[str]) -> tuple[str, list[str]]:
    """`npx -y virtualsms-mcp ...` (or `cmd /c npx -y virtualsms-mcp ...`) → `BINARY ...`."""
    launch = [command, *args]
    for prefix in (["npx", "-y", "virtualsms-mcp"], ["cmd", "/c", "npx", "-y", "virtualsms-mcp"]):
        if launch[: len(prefix)] == prefix:
            return BINARY, launch[len(prefix):]
    raise AssertionError(f"the snippet does not launch `npx -y virtualsms-mcp`: {launch}")


def check_env(env: dict[str, str]) -> None:
    unknown = set(env) - KNOWN_ENV
    assert not unknown, f"the snippet sets variables the binary never reads: {unknown}"


def run_config(name: str, servers: dict[str, Any], sandbox: bool) -> None:
    """Writes an `mcpServers` config (command rewritten) and runs Inspector `--config` on it."""
    assert list(servers) == ["virtualsms"], f"{name}: server name {list(servers)}"
    entry = dict(servers["virtualsms"])
    check_env(entry.get("env", {}))
    entry["command"], entry["args"] = rewrite_launch(entry["command"], entry.get("args", []))
    assert ("--sandbox" in entry["args"]) == sandbox, f"{name}: args {entry['args']}"
    path = SCRATCH / f"{name}.json"
    path.write_text(json.dumps({"mcpServers": {"virtualsms": entry}}, indent=2))
    reply = inspector("--config", str(path), "--server", "virtualsms", "--method", "tools/list")
    assert listed_names(reply) == TOOL_NAMES, f"{name}: {listed_names(reply)}"
    if sandbox:
        reply = inspector(
            "--config", str(path), "--server", "virtualsms", "--method", "tools/call",
            "--tool-name", "find_cheapest", "--tool-args-json", '{"service": "telegram"}',
        )
        assert reply["result"]["isError"] is False, reply


def mcp_servers_file(file: str, sandbox: bool = False) -> None:
    config = json.loads((EXAMPLES / file).read_text())
    assert set(config) == {"mcpServers"}, f"{file}: top-level keys {set(config)}"
    run_config(file, config["mcpServers"], sandbox)


def test_cursor_snippet() -> None:
    mcp_servers_file("cursor.mcp.json")


def test_claude_desktop_snippet() -> None:
    mcp_servers_file("claude-desktop.json")


def test_windsurf_snippet() -> None:
    mcp_servers_file("windsurf.mcp_config.json")


def test_windows_cmd_snippet() -> None:
    config = json.loads((EXAMPLES / "windows.mcp.json").read_text())
    assert config["mcpServers"]["virtualsms"]["command"] == "cmd"
    assert config["mcpServers"]["virtualsms"]["args"][:2] == ["/c", "npx"]
    mcp_servers_file("windows.mcp.json")


def test_sandbox_snippet_needs_no_key() -> None:
    config = json.loads((EXAMPLES / "sandbox.mcp.json").read_text())
    assert "env" not in config["mcpServers"]["virtualsms"], "the sandbox snippet needs no key"
    mcp_servers_file("sandbox.mcp.json", sandbox=True)


def test_vscode_snippet() -> None:
    """VS Code's `.vscode/mcp.json`: top-level `servers`, and the key comes from a password
    prompt (`inputs`). Inspector reads `mcpServers`; the prompt is answered like VS Code does."""
    config = json.loads((EXAMPLES / "vscode.mcp.json").read_text())
    assert set(config) == {"inputs", "servers"}, set(config)
    inputs = {i["id"]: i for i in config["inputs"]}
    entry = dict(config["servers"]["virtualsms"])
    assert entry["type"] == "stdio", entry
    env = {}
    for key, value in entry.get("env", {}).items():
        match = re.fullmatch(r"\$\{input:([^}]+)\}", value)
        if match:
            prompt = inputs[match.group(1)]
            assert prompt["type"] == "promptString" and prompt["password"] is True, prompt
            value = "sk_live_from_prompt"
        env[key] = value
    assert "VIRTUALSMS_API_KEY" in env, env
    entry["env"] = env
    run_config("vscode", {"virtualsms": entry}, sandbox=False)


def test_codex_toml_snippet() -> None:
    config = tomllib.loads((EXAMPLES / "codex.config.toml").read_text())
    entry = config["mcp_servers"]["virtualsms"]
    assert entry["startup_timeout_sec"] >= 20, "Codex's 10 s default is short for a first npx download"
    run_config("codex", {"virtualsms": {k: entry[k] for k in ("command", "args", "env")}}, sandbox=False)


def cli_add_line(file: str, program: str, env_flag: str) -> tuple[dict[str, str], list[str]]:
    """Parses `<program> mcp add virtualsms <env_flag> K=V -- npx -y virtualsms-mcp`."""
    words = shlex.split((EXAMPLES / file).read_text())
    assert words[:4] == [program, "mcp", "add", "virtualsms"], f"{file}: the name goes right after `add`: {words}"
    separator = words.index("--")
    env: dict[str, str] = {}
    rest = words[4:separator]
    while rest:
        flag, pair, *rest = rest
        assert flag == env_flag, f"{file}: unexpected {flag}"
        key, value = pair.split("=", 1)
        env[key] = value
    check_env(env)
    return env, words[separator + 1 :]


def test_claude_code_line() -> None:
    env, launch = cli_add_line("claude-code.sh", "claude", "-e")
    assert "VIRTUALSMS_API_KEY" in env
    run_config("claude-code", {"virtualsms": {"command": launch[0], "args": launch[1:], "env": env}}, sandbox=False)


def test_codex_cli_line() -> None:
    env, launch = cli_add_line("codex-cli.sh", "codex", "--env")
    run_config("codex-cli", {"virtualsms": {"command": launch[0], "args": launch[1:], "env": env}}, sandbox=False)


# --- choosing the tools (--tools / VIRTUALSMS_TOOLS, --exclude-tools / VIRTUALSMS_EXCLUDE_TOOLS) --

DISCOVERY = ["country_pricing", "find_cheapest", "list_countries", "list_services", "service_availability"]
ACCOUNT = ["get_balance", "get_profile", "get_stats", "list_transactions"]


def test_tools_flag_offers_one_toolset() -> None:
    reply = inspector(BINARY, "--sandbox", "--tools", "discovery", "--method", "tools/list", "--strict")
    assert listed_names(reply) == DISCOVERY, listed_names(reply)


def test_exclude_variable_leaves_toolsets_out() -> None:
    reply = inspector(
        "-e", "VIRTUALSMS_EXCLUDE_TOOLS=discovery,orders,rentals", BINARY, "--sandbox",
        "--method", "tools/list", "--strict",
    )
    assert listed_names(reply) == ACCOUNT, listed_names(reply)


def inspector_error(*args: str, expect_rc: int) -> str:
    """Runs Inspector expecting a failure; returns what it reported (its error JSON is on stderr)."""
    cmd = [INSPECTOR, "--cli", *args, "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=INSPECTOR_ENV)
    assert out.returncode == expect_rc, f"{shlex.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}"
    return out.stdout + out.stderr


def test_a_tool_left_out_cannot_be_called() -> None:
    reply = inspector_error(
        BINARY, "--sandbox", "--tools", "account", "--method", "tools/call", "--tool-name", "find_cheapest",
        "--tool-args-json", '{"service": "telegram"}', expect_rc=5,
    )
    assert "find_cheapest" in reply and "not found" in reply, reply


def test_read_only_wins_over_the_tools_flag() -> None:
    reply = inspector(
        "-e", "VIRTUALSMS_READ_ONLY=1", BINARY, "--sandbox", "--tools", "orders", "--method", "tools/list",
    )
    names = listed_names(reply)
    assert "create_order" not in names and "get_order" in names, names


def test_an_unknown_tool_name_stops_the_server_naming_the_valid_ones() -> None:
    cmd = [BINARY, "--sandbox", "--tools", "discovery,ordrs", "tools"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    assert '"ordrs"' in out.stderr and "rentals" in out.stderr, out.stderr
    reply = inspector_error(BINARY, "--sandbox", "--tools", "ordrs", "--method", "tools/list", expect_rc=1)
    assert '"ordrs"' in reply and "wait_for_sms" in reply, reply


TESTS = [
    test_strict_tools_list,
    test_tools_call_structured_result,
    test_tools_call_error_result,
    test_tools_flag_offers_one_toolset,
    test_exclude_variable_leaves_toolsets_out,
    test_a_tool_left_out_cannot_be_called,
    test_read_only_wins_over_the_tools_flag,
    test_an_unknown_tool_name_stops_the_server_naming_the_valid_ones,
    test_cursor_snippet,
    test_claude_desktop_snippet,
    test_windsurf_snippet,
    test_windows_cmd_snippet,
    test_sandbox_snippet_needs_no_key,
    test_vscode_snippet,
    test_codex_toml_snippet,
    test_claude_code_line,
    test_codex_cli_line,
]

if __name__ == "__main__":
    sys.exit(harness.run(f"MCP Inspector CLI tests against {BINARY}", TESTS))
