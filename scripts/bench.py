#!/usr/bin/env python3
"""Benchmarks of the virtualsms-mcp release binary against the fake VirtualSMS API.

Builds the release binary, starts the fake (`virtualsms-mcp sandbox-api`) on a free loopback
port, measures, prints a table, and (on a full run) rewrites BENCHMARKS.md with the table, the
targets, PASS/MISS per row, the machine, the date, the command for each number, and — for every
miss — what bounds it, measured.

    scripts/bench.sh                  # everything; rewrites BENCHMARKS.md
    scripts/bench.sh --only cold_start --only idle_rss   # some rows; prints only
    scripts/bench.sh --quick          # fewer runs, a smoke test; prints only

Python 3.11 standard library only. Loopback traffic only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "virtualsms-mcp"
KEY = "sk_live_BENCHMARK_0123456789abcdef"
MB = 1_000_000  # targets are in decimal megabytes
MEASURES = ["cold_start", "tools_list", "added_latency", "idle_rss", "waits_rss", "binary_size"]


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def ms(ns: float) -> float:
    return ns / 1e6


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUALSMS_") and k != "RUST_LOG"}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kib(status: dict[str, str], name: str) -> int:
    return int(status[name].split()[0])


def smaps_breakdown(pid: int) -> dict[str, int]:
    """Resident KiB per kind of mapping: the binary itself, shared libraries, heap, stacks and
    other anonymous memory."""
    kinds: dict[str, int] = {}
    kind = "other"
    exe = os.path.realpath(f"/proc/{pid}/exe")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if not head:
                continue
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                path = head[5] if len(head) > 5 else ""
                if path == exe:
                    kind = "binary (code + data)"
                elif ".so" in path:
                    kind = "shared libraries"
                elif path == "[heap]":
                    kind = "heap (brk)"
                elif path.startswith("[stack"):
                    kind = "main stack"
                elif path == "":
                    kind = "anonymous (malloc arenas, thread stacks)"
                else:
                    kind = "other (" + path + ")" if path.startswith("[") else "other files"
            elif head[0] == "Rss:":
                kinds[kind] = kinds.get(kind, 0) + int(head[1])
    return kinds


# --------------------------------------------------------------------------------------------
# The fake API and the server under test


class Fake:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(BIN), "sandbox-api", "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # No SMS arrives by itself while the benchmark waits for one.
            env=clean_env(VIRTUALSMS_SANDBOX_SMS_DELAY="3600"),
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.get("/api/v2/services")
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("the fake API did not start")
                time.sleep(0.02)
        self.admin("POST", "/admin/rate-limit", {"per_minute": 0})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def _call(self, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status} {text[:300]!r}")
            return json.loads(text) if text else None
        finally:
            conn.close()

    def get(self, path: str):
        return self._call("GET", path)

    def admin(self, method: str, path: str, body=None):
        return self._call(method, path, body)

    def api(self, method: str, path: str, body=None):
        headers = {"Authorization": f"Bearer {KEY}"}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return self._call(method, path, body, headers)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def server_env(fake: Fake) -> dict[str, str]:
    return clean_env(
        VIRTUALSMS_BASE_URL=fake.base_url,
        VIRTUALSMS_API_KEY=KEY,
        VIRTUALSMS_RATE_LIMIT="0",  # the fake's limit is off too: measure the server, not pacing
    )


INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
INIT_LINE = (json.dumps(INIT) + "\n").encode()


class Server:
    """The binary over stdio, spoken to in JSON-RPC lines."""

    def __init__(self, fake: Fake) -> None:
        self.proc = subprocess.Popen(
            [str(BIN)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(fake),
        )
        self.next_id = 1
        self.request_raw(INIT)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, msg: dict) -> None:
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def read_response(self, want_id) -> tuple[dict, int]:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("the server closed stdout")
            msg = json.loads(line)
            if msg.get("id") == want_id and "method" not in msg:
                return msg, len(line.rstrip(b"\n"))

    def request_raw(self, msg: dict) -> tuple[dict, int]:
        self.send(msg)
        return self.read_response(msg["id"])

    def request(self, method: str, params: dict) -> tuple[dict, int, int]:
        """(response, response bytes, round trip ns)"""
        rid = self.next_id
        self.next_id += 1
        line = (json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode()
        t0 = time.perf_counter_ns()
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        msg, size = self.read_response(rid)
        return msg, size, time.perf_counter_ns() - t0

    def call(self, tool: str, args: dict) -> tuple[dict, int]:
        msg, _, took = self.request("tools/call", {"name": tool, "arguments": args})
        result = msg.get("result") or {}
        if "error" in msg or result.get("isError"):
            raise RuntimeError(f"{tool} failed: {json.dumps(msg)[:400]}")
        return result, took

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------------------------------
# Measures. Each returns a Row.


@dataclass
class Row:
    key: str
    name: str
    value: str
    target: str = "—"
    ok: bool | None = None  # None: no target
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "—" if self.ok is None else ("PASS" if self.ok else "MISS")


def spawn_to_first_line(argv: list[str], env: dict[str, str], stdin_bytes: bytes | None) -> int:
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    if stdin_bytes is not None:
        p.stdin.write(stdin_bytes)
        p.stdin.flush()
    line = p.stdout.readline()
    took = time.perf_counter_ns() - t0
    if not line:
        raise SystemExit(f"{argv}: no output")
    if stdin_bytes is not None:
        p.stdin.close()
    p.wait(5)
    return took


def cold_start(fake: Fake, runs: int) -> Row:
    env = server_env(fake)
    for _ in range(3):  # page cache warm
        spawn_to_first_line([str(BIN)], env, INIT_LINE)
    times = [spawn_to_first_line([str(BIN)], env, INIT_LINE) for _ in range(runs)]
    floor_version = [spawn_to_first_line([str(BIN), "--version"], env, None) for _ in range(runs)]
    floor_echo = [spawn_to_first_line(["/bin/echo", "x"], env, None) for _ in range(runs)]
    med, p90 = ms(statistics.median(times)), ms(pct(times, 90))
    row = Row(
        "cold_start",
        f"Cold start: spawn → `initialize` answer (median / p90, {runs} runs)",
        f"{med:.2f} ms / {p90:.2f} ms",
        "≤ 10 ms median",
        med <= 10,
    )
    row.notes.append(
        f"floors, same spawn-and-read-a-line method: `/bin/echo` {ms(statistics.median(floor_echo)):.2f} ms, "
        f"`virtualsms-mcp --version` {ms(statistics.median(floor_version)):.2f} ms median "
        f"(process creation and dynamic loading, before any MCP work)"
    )
    return row


def tools_list(fake: Fake, runs: int) -> Row:
    s = Server(fake)
    for _ in range(20):
        s.request("tools/list", {})
    times, size = [], 0
    for _ in range(runs):
        msg, size, took = s.request("tools/list", {})
        assert len(msg["result"]["tools"]) >= 18, msg
        times.append(took)
    s.close()
    return Row(
        "tools_list",
        f"tools/list: latency (median / p99, {runs} in one session) and payload",
        f"{ms(statistics.median(times)):.3f} ms / {ms(pct(times, 99)):.3f} ms; {size:,} bytes",
    )


def added_latency(fake: Fake, runs: int) -> Row:
    s = Server(fake)
    # The direct request is as lean as Python allows: one keep-alive socket, the request bytes
    # built once, the answer read by Content-Length (http.client alone costs ~0.1 ms more).
    sock = socket.create_connection(("127.0.0.1", fake.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = (
        f"GET /api/v2/me/balance HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n"
        f"Authorization: Bearer {KEY}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    pending = bytearray()

    def direct() -> int:
        t0 = time.perf_counter_ns()
        sock.sendall(request)
        while b"\r\n\r\n" not in pending:
            pending.extend(sock.recv(65536))
        head, _, _ = bytes(pending).partition(b"\r\n\r\n")
        length = next(int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:])
                      if k.strip().lower() == b"content-length")
        total = len(head) + 4 + length
        while len(pending) < total:
            pending.extend(sock.recv(65536))
        took = time.perf_counter_ns() - t0
        status = head.split(b" ", 2)[1]
        del pending[:total]
        if status != b"200":
            raise RuntimeError(f"direct GET: HTTP {status!r}")
        return took

    def via_mcp() -> int:
        return s.call("get_balance", {})[1]

    for _ in range(50):
        direct()
        via_mcp()
    d, m, diff = [], [], []
    for i in range(runs):
        # Alternate which goes first, so drift and caching favour neither.
        if i % 2:
            a = direct()
            b = via_mcp()
        else:
            b = via_mcp()
            a = direct()
        d.append(a)
        m.append(b)
        diff.append(b - a)
    # The MCP share alone: a tools/list round trip does no HTTP at all.
    ping = [s.request("ping", {})[2] for _ in range(runs)]
    sock.close()
    s.close()
    p50 = ms(statistics.median(diff))
    row = Row(
        "added_latency",
        f"Added latency of a tool call over a direct HTTP request (get_balance vs "
        f"GET /me/balance on a keep-alive socket, {runs} pairs): p50 / p99 of the difference",
        f"{p50:.3f} ms / {ms(pct(diff, 99)):.3f} ms",
        "≤ 1 ms p50",
        p50 <= 1,
    )
    row.notes.append(
        f"direct HTTP p50 {ms(statistics.median(d)):.3f} ms, p99 {ms(pct(d, 99)):.3f} ms; "
        f"through MCP p50 {ms(statistics.median(m)):.3f} ms, p99 {ms(pct(m, 99)):.3f} ms; "
        f"an MCP `ping` round trip alone (stdio + JSON-RPC, no HTTP) p50 {ms(statistics.median(ping)):.3f} ms"
    )
    return row


def describe_memory(pid: int) -> str:
    st = proc_status(pid)
    kinds = sorted(smaps_breakdown(pid).items(), key=lambda kv: -kv[1])
    parts = ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in kinds if v >= 50)
    return f"resident now {kib(st, 'VmRSS') / 1024:.1f} MiB, {st['Threads']} thread(s): {parts}"


def idle_rss(fake: Fake) -> Row:
    s = Server(fake)
    s.request("tools/list", {})
    time.sleep(0.3)
    hwm = kib(proc_status(s.pid), "VmHWM")
    note = describe_memory(s.pid)
    s.close()
    row = Row(
        "idle_rss",
        "Peak RSS (VmHWM), idle after initialize + tools/list",
        f"{hwm / 1024:.1f} MiB ({hwm * 1024 / MB:.1f} MB)",
        "≤ 10 MB",
        hwm * 1024 <= 10 * MB,
    )
    row.notes.append(note)
    return row


def cheap_orders(fake: Fake, n: int) -> list[tuple[str, str]]:
    """(service, country) for `n` orders whose total fits the fake's starting balance ($10.00):
    the cheapest in-stock pairs first."""
    balance = float(fake.api("GET", "/api/v2/me/balance")["balance"])
    pairs = []
    for c in fake.get("/api/v2/countries"):
        for row in fake.get(f"/api/v2/countries/{c['iso2']}/pricing"):
            if row["stock"] > 0:
                pairs.append((float(row["price"]), row["stock"], row["service"], c["iso2"]))
    pairs.sort()
    picks, total = [], 0.0
    for price, stock, service, country in pairs:
        for _ in range(min(stock, n - len(picks))):
            picks.append((service, country))
            total += price
        if len(picks) == n:
            break
    if len(picks) < n or total > balance:
        raise SystemExit(f"cannot afford {n} orders (${total:.2f} > ${balance:.2f})")
    return picks


def waits_rss(fake: Fake, n: int = 100) -> Row:
    s = Server(fake)
    s.request("tools/list", {})
    idle = kib(proc_status(s.pid), "VmHWM")
    orders = [fake.api("POST", "/api/v2/orders", {"service": sv, "country": c})["order_id"] for sv, c in cheap_orders(fake, n)]
    ids = []
    for order_id in orders:
        rid = s.next_id
        s.next_id += 1
        ids.append(rid)
        s.send({
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "wait_for_sms", "arguments": {"order_id": order_id, "timeout_seconds": 300}},
        })
    deadline = time.monotonic() + 15
    while fake.admin("GET", "/admin/stats")["open_long_polls"] < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {fake.admin('GET', '/admin/stats')['open_long_polls']} long-polls opened")
        time.sleep(0.02)
    time.sleep(0.5)
    # Other calls while the waits are held.
    held = [s.call("get_balance", {})[1] for _ in range(50)]
    hwm = kib(proc_status(s.pid), "VmHWM")
    note = describe_memory(s.pid)
    t0 = time.monotonic()
    for rid in ids:
        s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": "bench"}})
    deadline = time.monotonic() + 10
    while fake.admin("GET", "/admin/stats")["open_long_polls"] > 0:
        if time.monotonic() > deadline:
            raise SystemExit("cancelled long-polls stayed open")
        time.sleep(0.01)
    released = time.monotonic() - t0
    s.close()
    row = Row(
        "waits_rss",
        f"Peak RSS (VmHWM) with {n} concurrent wait_for_sms on {n} orders",
        f"{hwm / 1024:.1f} MiB ({hwm * 1024 / MB:.1f} MB)",
        "≤ 30 MB",
        hwm * 1024 <= 30 * MB,
    )
    row.notes.append(
        f"{(hwm - idle) / n:.0f} KiB per held wait over the idle peak of {idle / 1024:.1f} MiB; {note}; "
        f"get_balance while the {n} were held: p50 {ms(statistics.median(held)):.3f} ms, max {ms(max(held)):.3f} ms; "
        f"cancelling all {n} closed every long-poll in {released * 1000:.0f} ms"
    )
    return row


def binary_size() -> Row:
    size = BIN.stat().st_size
    return Row("binary_size", "Release binary size (`target/release/virtualsms-mcp`)", f"{size / MB:.2f} MB ({size:,} bytes)")


# --------------------------------------------------------------------------------------------
# Report


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": f"{platform.system()} {platform.release()}",
        "rustc": rustc or "unknown",
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def command_for(key: str) -> str:
    return f"scripts/bench.sh --only {key}"


def table(rows: list[Row]) -> str:
    out = ["| Measure | Result | Target | Verdict | Command |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.name} | {r.value} | {r.target} | {r.verdict} | `{command_for(r.key)}` |")
    return "\n".join(out)


BOUNDS = {
    "cold_start": "Cold start is spawn → first answer line; most of it is process creation and the dynamic loader "
    "(see the floors), not MCP work.",
    "idle_rss": "Idle RSS is mostly the mapped binary (code pages touched at start-up) and the shared libraries; "
    "the heap is small. Only a smaller binary or fewer pages touched at start lowers it.",
    "added_latency": "The difference includes the stdio round trip (two pipe writes and two wake-ups), JSON-RPC "
    "(de)serialization of the request and the result, and reqwest's HTTP client against Python's.",
    "waits_rss": "Each held wait costs a tokio task, an HTTP/1 connection with its buffers, and the rmcp request "
    "state; see the per-wait figure.",
}


KEEP_MARKER = "<!-- Hand-written below this line: scripts/bench.py keeps it. -->"


def write_markdown(rows: list[Row], info: dict[str, str], argv: list[str]) -> None:
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by scripts/bench.py; rerun `scripts/bench.sh` to update. -->",
        "",
        f"Measured {info['date']} on {info['nproc']} × {info['cpu']} ({info['kernel']}), {info['rustc']}, "
        f"Python {info['python']}, load average {info['load']} at the end, by "
        f"`{' '.join(shlex.quote(a) for a in argv)}`. Each row's command reruns just that measure with the "
        "same parameters.",
        "",
        "The server is the release binary (`cargo build --release`, with Cargo.toml's `[profile.release]`) over stdio, against the fake API "
        "(`virtualsms-mcp sandbox-api`) on loopback, with rate limits off on both sides "
        "(`VIRTUALSMS_RATE_LIMIT=0`, `POST /admin/rate-limit {\"per_minute\": 0}`). RSS is `VmHWM` from "
        "`/proc/<pid>/status`. MB = 10^6 bytes, MiB = 2^20 bytes.",
        "",
        table(rows),
        "",
        "## Details",
        "",
    ]
    for r in rows:
        if r.notes:
            lines.append(f"- **{r.key}**: " + "; ".join(r.notes))
    misses = [r for r in rows if r.ok is False]
    lines += ["", "## What bounds the misses", ""]
    if not misses:
        lines.append("Every target was met.")
    for r in misses:
        lines.append(f"- **{r.key}** ({r.value}, target {r.target}): {BOUNDS.get(r.key, '')} Measured: {'; '.join(r.notes)}")
    lines += [
        "",
        "## Method",
        "",
        "- **cold_start**: `subprocess.Popen` of the binary, the `initialize` request written at once, time until "
        "its answer line is read; 3 warm-up runs, then the runs counted. The floors use the same method.",
        "- **tools_list**: one session, 20 warm-up requests, then sequential round trips; payload is the "
        "answer line's length.",
        "- **added_latency**: one MCP session and one keep-alive socket to the fake (the request bytes built "
        "once, the answer read by Content-Length), both with the same key; 50 warm-up pairs, then pairs in "
        "alternating order; the difference is per pair. It is what the MCP hop adds for a client: stdio, "
        "JSON-RPC, the tool, and the server's own HTTP client in place of the direct one.",
        "- **idle_rss**: a fresh server after `initialize` + `tools/list`, 0.3 s later.",
        "- **waits_rss**: a fresh server; 100 orders bought directly from the fake (the cheapest in-stock "
        "pairs, within the fake's $10 starting balance), then 100 `wait_for_sms` calls written at once; read "
        "once the fake holds 100 long-polls (and after 50 get_balance calls); then all cancelled with "
        "`notifications/cancelled`.",
        "- Benchmarks are never run by `cargo test`; tests assert no timings.",
        "",
    ]
    # Hand-written notes below the marker (one-off measurements) survive a rewrite.
    path = ROOT / "BENCHMARKS.md"
    kept = path.read_text().split(KEEP_MARKER, 1) if path.exists() else []
    if len(kept) == 2:
        lines += [KEEP_MARKER + kept[1].rstrip("\n"), ""]
    path.write_text("\n".join(lines))
    log("wrote BENCHMARKS.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=MEASURES, help="run only these measures (repeatable); prints only")
    ap.add_argument("--quick", action="store_true", help="fewer runs, a smoke test; prints only")
    ap.add_argument("--no-build", action="store_true", help="use target/release/virtualsms-mcp as it is")
    args = ap.parse_args()

    if not args.no_build:
        log("cargo build --release")
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "virtualsms-mcp"], cwd=ROOT, check=True)
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing")
    which = args.only or MEASURES
    scale = 0.1 if args.quick else 1.0
    runs = lambda n: max(5, int(n * scale))  # noqa: E731

    fake = Fake()
    rows: list[Row] = []
    try:
        for key in which:
            log(f"measuring {key}")
            if key == "cold_start":
                rows.append(cold_start(fake, runs(50)))
            elif key == "tools_list":
                rows.append(tools_list(fake, runs(200)))
            elif key == "added_latency":
                rows.append(added_latency(fake, runs(500)))
            elif key == "idle_rss":
                rows.append(idle_rss(fake))
            elif key == "waits_rss":
                rows.append(waits_rss(fake))
            elif key == "binary_size":
                rows.append(binary_size())
    finally:
        fake.stop()

    info = machine()
    print()
    print(f"{info['nproc']} × {info['cpu']}, {info['kernel']}, {info['date']}, load {info['load']}")
    print(table(rows))
    for r in rows:
        for n in r.notes:
            print(f"  {r.key}: {n}")
    for r in rows:
        if r.ok is False:
            print(f"  MISS {r.key}: {BOUNDS.get(r.key, '')}")
    if args.only or args.quick:
        log("partial or quick run: BENCHMARKS.md left as it is")
    else:
        write_markdown(rows, info, ["scripts/bench.sh"])


if __name__ == "__main__":
    main()
