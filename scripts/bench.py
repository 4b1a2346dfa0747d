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
import queue
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "virtualsms-mcp"
KEY = "sk_live_BENCHMARK_0123456789abcdef"
# The v1 measures use their own account at the fake (one key per server, as in production): the
# v2 measures spend most of KEY's $10 starting balance on orders.
KEY_V1 = "sk_live_BENCHMARK_V1_0123456789abcdef"
MB = 1_000_000  # targets are in decimal megabytes
MEASURES = [
    "cold_start",
    "tools_list",
    "added_latency",
    "added_latency_v1",
    "idle_rss",
    "waits_rss",
    "waits_v1",
    "binary_size",
]
# waits_v1: the server at production pacing, and how long the fake's request log is watched.
V1_RATE_LIMIT = 60
V1_POLL_SECS = 5
V1_HOLD_SECS = 60


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

    @property
    def v1_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

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

    def api_v1(self, method: str, path: str, body=None):
        # v1 ignores idempotency keys: each POST is made once.
        return self._call(method, path, body, {"X-API-Key": KEY_V1})

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def server_env(fake: Fake, v1: bool = False, **extra: str) -> dict[str, str]:
    """The server against the fake's v2 dialect, or its v1 one (a base URL ending in `/api/v1`
    fixes the version); `extra` overrides."""
    env = {
        "VIRTUALSMS_BASE_URL": fake.v1_base_url if v1 else fake.base_url,
        "VIRTUALSMS_API_KEY": KEY_V1 if v1 else KEY,
        "VIRTUALSMS_RATE_LIMIT": "0",  # the fake's limit is off too: measure the server, not pacing
    }
    env.update(extra)
    return clean_env(**env)


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

    def __init__(self, fake: Fake, v1: bool = False, **env: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(fake, v1, **env),
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
    measure: str = ""  # the measure that reruns it, when one measure gives several rows

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


def latency_pairs(s: Server, port: int, request: bytes, runs: int):
    """get_balance through `s` against `request` sent directly to the fake: (direct, through MCP,
    per-pair differences, MCP `ping` round trips), in ns."""
    # The direct request is as lean as Python allows: one keep-alive socket, the request bytes
    # built once, the answer read by Content-Length (http.client alone costs ~0.1 ms more).
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
    # The MCP share alone: a ping round trip does no HTTP at all.
    ping = [s.request("ping", {})[2] for _ in range(runs)]
    sock.close()
    return d, m, diff, ping


def latency_row(key: str, name: str, d: list[int], m: list[int], diff: list[int], ping: list[int]) -> Row:
    p50 = ms(statistics.median(diff))
    row = Row(key, name, f"{p50:.3f} ms / {ms(pct(diff, 99)):.3f} ms", "≤ 1 ms p50", p50 <= 1)
    row.notes.append(
        f"direct HTTP p50 {ms(statistics.median(d)):.3f} ms, p99 {ms(pct(d, 99)):.3f} ms; "
        f"through MCP p50 {ms(statistics.median(m)):.3f} ms, p99 {ms(pct(m, 99)):.3f} ms; "
        f"an MCP `ping` round trip alone (stdio + JSON-RPC, no HTTP) p50 {ms(statistics.median(ping)):.3f} ms"
    )
    return row


def added_latency(fake: Fake, runs: int) -> Row:
    s = Server(fake)
    request = (
        f"GET /api/v2/me/balance HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n"
        f"Authorization: Bearer {KEY}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    measured = latency_pairs(s, fake.port, request, runs)
    s.close()
    return latency_row(
        "added_latency",
        f"Added latency of a tool call over a direct HTTP request (get_balance vs "
        f"GET /me/balance on a keep-alive socket, {runs} pairs): p50 / p99 of the difference",
        *measured,
    )


def added_latency_v1(fake: Fake, runs: int) -> Row:
    s = Server(fake, v1=True)
    request = (
        f"GET /api/v1/customer/balance HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n"
        f"X-API-Key: {KEY_V1}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    measured = latency_pairs(s, fake.port, request, runs)
    s.close()
    return latency_row(
        "added_latency_v1",
        f"REST v1: added latency of a tool call over a direct HTTP request (get_balance vs "
        f"GET /api/v1/customer/balance with `X-API-Key` on a keep-alive socket, {runs} pairs): "
        f"p50 / p99 of the difference",
        *measured,
    )


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


def cheap_orders_v1(fake: Fake, n: int) -> list[tuple[str, str]]:
    """(service code, country) for `n` v1 orders whose total fits KEY_V1's starting balance: the
    cheapest in-stock pairs first (the fake has no deposit route short of a signed x402 payment)."""
    balance = float(fake.api_v1("GET", "/api/v1/customer/balance")["balance"])
    pairs = []
    for svc in fake.api_v1("GET", "/api/v1/customer/services")["services"]:
        code = svc["service_id"]
        for row in fake.get(f"/api/v1/catalog/countries?service={code}")["countries"]:
            if row["count"] > 0:
                pairs.append((float(row["price"]), row["count"], code, row["id"]))
    pairs.sort()
    picks, total = [], 0.0
    for price, stock, service, country in pairs:
        for _ in range(min(stock, n - len(picks))):
            picks.append((service, country))
            total += price
        if len(picks) == n:
            break
    if len(picks) < n or total > balance:
        raise SystemExit(f"cannot afford {n} v1 orders (${total:.2f} > ${balance:.2f})")
    return picks


def stdout_lines(s: Server) -> queue.Queue:
    """Every line the server writes from now on, as (perf_counter seconds, message), read by a
    thread so that waiting for answers is bounded; (t, None) at end of output."""
    lines: queue.Queue = queue.Queue()

    def run() -> None:
        for line in iter(s.proc.stdout.readline, b""):
            lines.put((time.perf_counter(), json.loads(line)))
        lines.put((time.perf_counter(), None))

    threading.Thread(target=run, daemon=True).start()
    return lines


def request_kinds(requests: list[dict]) -> str:
    kinds: dict[str, int] = {}
    for r in requests:
        path = r["path"]
        if path == "/api/v1/customer/orders":
            kind = "order-history reads"
        elif path.startswith("/api/v1/customer/order/"):
            kind = "order reads"
        else:
            kind = f"{r['method']} {path}"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])) or "none"


def waits_v1(fake: Fake, n: int = 100, delivered: int = 10) -> list[Row]:
    """REST v1 has no long-poll: `n` waits share one poller. Held for V1_HOLD_SECS at production
    pacing; then SMS for `delivered` of them, one every half second so they fall at different
    points of the poll cycle; then the rest cancelled."""
    s = Server(fake, v1=True, VIRTUALSMS_RATE_LIMIT=str(V1_RATE_LIMIT), VIRTUALSMS_POLL_INTERVAL_SECS=str(V1_POLL_SECS))
    s.request("tools/list", {})
    idle = kib(proc_status(s.pid), "VmHWM")
    orders = [
        fake.api_v1("POST", "/api/v1/customer/purchase", {"service": sv, "country": c})["order_id"]
        for sv, c in cheap_orders_v1(fake, n)
    ]
    lines = stdout_lines(s)
    fake.admin("DELETE", "/admin/requests")
    t0 = time.perf_counter()
    ids = {}
    for order_id in orders:
        rid = s.next_id
        s.next_id += 1
        ids[rid] = order_id
        s.send({
            "jsonrpc": "2.0",
            "id": rid,
            "method": "tools/call",
            "params": {"name": "wait_for_sms", "arguments": {"order_id": order_id, "timeout_seconds": 600}},
        })
    time.sleep(max(0.0, t0 + V1_HOLD_SECS - time.perf_counter()))
    held = fake.admin("GET", "/admin/requests")
    hold = time.perf_counter() - t0
    if not lines.empty():
        raise SystemExit(f"a wait ended during the hold: {json.dumps(lines.get()[1])[:400]}")
    hwm_hold = kib(proc_status(s.pid), "VmHWM")
    note = describe_memory(s.pid)
    per_minute = len(held) * 60 / hold

    # SMS for `delivered` orders spread over the list (oldest to newest), half a second apart.
    fake.admin("DELETE", "/admin/requests")
    step = n // delivered
    picked = {rid: oid for k, (rid, oid) in enumerate(ids.items()) if k % step == 0 and k // step < delivered}
    sent: dict[int, tuple[float, str]] = {}
    d0 = time.perf_counter()
    for k, (rid, order_id) in enumerate(picked.items()):
        time.sleep(max(0.0, d0 + k * 0.5 - time.perf_counter()))
        text = f"Your benchmark code is {400000 + k}"
        sent[rid] = (time.perf_counter(), text)
        fake.admin("POST", f"/admin/orders/{order_id}/deliver", {"text": text})
    took, wrong = {}, []
    deadline = time.perf_counter() + 2 * V1_POLL_SECS + 30
    while len(took) < delivered and not wrong:
        try:
            at, msg = lines.get(timeout=max(0.0, deadline - time.perf_counter()))
        except queue.Empty:
            break
        if msg is None:
            raise SystemExit("the server closed stdout")
        rid = msg.get("id")
        if rid not in picked or "method" in msg:
            if rid in ids:
                wrong.append(f"{ids[rid]} answered without an SMS: {json.dumps(msg)[:300]}")
            continue
        result = (msg.get("result") or {}).get("structuredContent") or {}
        if result.get("outcome") == "received" and result.get("text") == sent[rid][1] and result.get("order_id") == picked[rid]:
            took[rid] = at - sent[rid][0]
        else:
            wrong.append(f"{picked[rid]}: {json.dumps(msg)[:300]}")
    delivery_requests = fake.admin("GET", "/admin/requests")

    # Cancel the other waits; the poller stops with the last one.
    for rid in ids:
        if rid not in picked:
            s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": "bench"}})
    time.sleep(0.5)
    fake.admin("DELETE", "/admin/requests")
    time.sleep(V1_POLL_SECS + 1)
    after_cancel = fake.admin("GET", "/admin/requests")
    hwm = kib(proc_status(s.pid), "VmHWM")
    s.close()

    if wrong:
        raise SystemExit("waits_v1: " + "; ".join(wrong))
    arrived = len(took)
    worst = max(took.values()) if took else float("inf")
    rate = Row(
        "waits_v1_rate",
        f"REST v1, {n} concurrent wait_for_sms on {n} orders at production pacing "
        f"(`VIRTUALSMS_RATE_LIMIT={V1_RATE_LIMIT}`, poll every {V1_POLL_SECS} s): requests per minute "
        f"the fake received over a {V1_HOLD_SECS} s hold",
        f"{per_minute:.1f}/min ({len(held)} in {hold:.1f} s)",
        f"≤ {V1_RATE_LIMIT}/min",
        per_minute <= V1_RATE_LIMIT,
        measure="waits_v1",
    )
    rate.notes.append(
        f"during the hold: {request_kinds(held)}; no wait returned during it; after the SMS deliveries "
        f"the other {n - delivered} waits were cancelled (`notifications/cancelled`) and the fake received "
        f"{len(after_cancel)} request(s) in the next {V1_POLL_SECS + 1} s"
    )
    delivery = Row(
        "waits_v1_sms",
        f"REST v1, the same {n} waits: SMS delivered to {delivered} of them, one every 0.5 s; "
        f"delivery → wait_for_sms answer, slowest of the {delivered}",
        f"{worst:.2f} s ({arrived}/{delivered} arrived)",
        f"{delivered}/{delivered}, each ≤ {V1_POLL_SECS} s poll + 0.5 s",
        arrived == delivered and worst <= V1_POLL_SECS + 0.5,
        measure="waits_v1",
    )
    if took:
        delivery.notes.append(
            f"an SMS for every {step}th order, oldest to newest, one every 0.5 s: {arrived}/{delivered} returned "
            f"by wait_for_sms with the delivered text, {min(took.values()):.2f}–{worst:.2f} s after delivery "
            f"(median {statistics.median(took.values()):.2f} s); meanwhile the fake received "
            f"{request_kinds(delivery_requests)}"
        )
    rss = Row(
        "waits_v1_rss",
        f"REST v1: peak RSS (VmHWM) with the same {n} concurrent wait_for_sms",
        f"{hwm / 1024:.1f} MiB ({hwm * 1024 / MB:.1f} MB)",
        "≤ 30 MB",
        hwm * 1024 <= 30 * MB,
        measure="waits_v1",
    )
    rss.notes.append(
        f"{(hwm_hold - idle) / n:.0f} KiB per held wait over the idle peak of {idle / 1024:.1f} MiB "
        f"(peak at the end of the hold {hwm_hold / 1024:.1f} MiB, over the whole measure {hwm / 1024:.1f} MiB); "
        f"at the end of the hold: {note}"
    )
    return [rate, delivery, rss]


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


def command_for(row: Row) -> str:
    return f"scripts/bench.sh --only {row.measure or row.key}"


def table(rows: list[Row]) -> str:
    out = ["| Measure | Result | Target | Verdict | Command |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.name} | {r.value} | {r.target} | {r.verdict} | `{command_for(r)}` |")
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
    "added_latency_v1": "As added_latency: stdio, JSON-RPC, the tool, and reqwest against Python's client.",
    "waits_v1_rate": "One shared poller reads the order history once per poll interval for all waits, and an "
    "order only when the history shows it changed; more requests mean reads beyond that (see the kinds).",
    "waits_v1_sms": "An SMS is seen at the next history read (one poll interval at most), then its order is read; "
    "a slower answer means the order read waited for the pacing budget or a round was late.",
    "waits_v1_rss": "Each held wait costs a tokio task, a subscription in the shared poller and the rmcp request "
    "state (no connection of its own); see the per-wait figure.",
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
        "(`VIRTUALSMS_RATE_LIMIT=0`, `POST /admin/rate-limit {\"per_minute\": 0}`), except the v1 waits, "
        f"which run the server at production pacing (`VIRTUALSMS_RATE_LIMIT={V1_RATE_LIMIT}`, "
        f"`VIRTUALSMS_POLL_INTERVAL_SECS={V1_POLL_SECS}`). Rows without \"REST v1\" use REST v2 "
        "(`VIRTUALSMS_BASE_URL=…/api/v2`, Bearer key); the v1 rows use `VIRTUALSMS_BASE_URL=…/api/v1` "
        "(`X-API-Key`, no long-poll). RSS is `VmHWM` from "
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
        "- **added_latency_v1**: the same against the fake's v1 dialect: a server with "
        "`VIRTUALSMS_BASE_URL=…/api/v1` and the direct request `GET /api/v1/customer/balance` with "
        "`X-API-Key`.",
        "- **idle_rss**: a fresh server after `initialize` + `tools/list`, 0.3 s later.",
        "- **waits_rss**: a fresh server; 100 orders bought directly from the fake (the cheapest in-stock "
        "pairs, within the fake's $10 starting balance), then 100 `wait_for_sms` calls written at once; read "
        "once the fake holds 100 long-polls (and after 50 get_balance calls); then all cancelled with "
        "`notifications/cancelled`.",
        f"- **waits_v1** (rows waits_v1_rate, waits_v1_sms, waits_v1_rss): a fresh server on v1 at production "
        f"pacing; 100 orders bought directly from the fake (`POST /api/v1/customer/purchase`, the cheapest "
        f"in-stock pairs within the $10 starting balance of a key of its own), the fake's request log "
        f"cleared (`DELETE /admin/requests`), then 100 `wait_for_sms` calls written at once and held "
        f"{V1_HOLD_SECS} s; requests per minute = the requests in the fake's log (`GET /admin/requests`) "
        f"over the time since the calls were written, first poll round included. Then an SMS with a "
        f"distinct text for every 10th order (`POST /admin/orders/{{id}}/deliver`), one every 0.5 s so the "
        f"deliveries fall at different points of the {V1_POLL_SECS} s poll cycle, each timed from just "
        f"before its delivery request to the moment its answer line is read, and checked to carry that "
        f"text; then the 90 other waits cancelled with `notifications/cancelled`, and the log watched for "
        f"one more poll interval. RSS is read at the end of the hold and at the end.",
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
            elif key == "added_latency_v1":
                rows.append(added_latency_v1(fake, runs(500)))
            elif key == "idle_rss":
                rows.append(idle_rss(fake))
            elif key == "waits_rss":
                rows.append(waits_rss(fake))
            elif key == "waits_v1":
                rows.extend(waits_v1(fake))
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
