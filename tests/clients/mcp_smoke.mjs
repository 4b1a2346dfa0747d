#!/usr/bin/env node
// A minimal MCP stdio client (plain JSON-RPC, no SDK) for packaging checks: starts a command the
// way a desktop client does, runs initialize → notifications/initialized → tools/list →
// tools/call find_cheapest, checks that stdout carried nothing but JSON-RPC, then ends the session
// by closing stdin (expects exit code 0) or, with --signal NAME, by sending that signal to the
// process it started (expects it, and any process it started, gone within 3 s).
//
// Usage: node mcp_smoke.mjs [--tools N] [--signal SIGTERM] -- command [args...]
// Works on Node >= 18. Exits non-zero with a message on stderr on the first failed check.
import { spawn } from "node:child_process";
import { readFileSync, existsSync, readlinkSync } from "node:fs";

const argv = process.argv.slice(2);
const sep = argv.indexOf("--");
if (sep < 0 || sep === argv.length - 1) {
  console.error("usage: mcp_smoke.mjs [--tools N] [--signal NAME] -- command [args...]");
  process.exit(2);
}
const opts = argv.slice(0, sep);
const [command, ...args] = argv.slice(sep + 1);
const opt = (name) => {
  const i = opts.indexOf(name);
  return i >= 0 ? opts[i + 1] : undefined;
};
const schema = new URL("../../tools.schema.json", import.meta.url);
const expectedTools = Number(opt("--tools") ?? JSON.parse(readFileSync(schema, "utf8")).tools.length);
const signal = opt("--signal");
const label = `${command} ${args.join(" ")}`;
const STEP_MS = 60_000; // the first npx run unpacks tarballs; later steps are milliseconds

let passed = 0;
const ok = (what) => {
  passed += 1;
  console.error(`ok ${passed} - ${what}`);
};
const fail = (what) => {
  console.error(`not ok - ${what}\n(command: ${label})`);
  console.error(`mcp smoke: ${passed} passed, 1 failed`);
  child.kill("SIGKILL");
  process.exit(1);
};

const child = spawn(command, args, {
  stdio: ["pipe", "pipe", "inherit"],
  env: { ...process.env, VIRTUALSMS_LOG: process.env.VIRTUALSMS_LOG ?? "warn" },
});
child.on("error", (e) => fail(`cannot start: ${e.message}`));

const pending = new Map();
let buffer = "";
child.stdout.setEncoding("utf8");
child.stdout.on("data", (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl).trim();
    buffer = buffer.slice(nl + 1);
    if (!line) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      fail(`stdout carried a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
    }
    if (msg.jsonrpc !== "2.0") fail(`not a JSON-RPC 2.0 message: ${line.slice(0, 200)}`);
    if (msg.id !== undefined && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  }
});

let nextId = 1;
function request(method, params) {
  const id = nextId++;
  child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(`${method}: no answer in ${STEP_MS} ms`), STEP_MS);
    pending.set(id, (msg) => {
      clearTimeout(timer);
      if (msg.error) fail(`${method}: JSON-RPC error ${JSON.stringify(msg.error)}`);
      resolve(msg.result);
    });
  });
}

const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, sig })));

function descendants(pid) {
  // Linux only: the processes the launcher started (e.g. the binary it spawned).
  const out = [];
  const path = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(path)) return out;
  for (const c of readFileSync(path, "utf8").split(/\s+/).filter(Boolean)) {
    out.push(Number(c), ...descendants(Number(c)));
  }
  return out;
}
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const init = await request("initialize", {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "mcp-smoke", version: "1.0.0" },
});
if (init?.serverInfo?.name !== "virtualsms-mcp") fail(`initialize: serverInfo ${JSON.stringify(init?.serverInfo)}`);
ok(`initialize → ${init.serverInfo.name} ${init.serverInfo.version}, protocol ${init.protocolVersion}`);
child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");

const listed = await request("tools/list", {});
if (listed.tools.length !== expectedTools) fail(`tools/list: ${listed.tools.length} tools, expected ${expectedTools}`);
ok(`tools/list → ${listed.tools.length} tools`);

const called = await request("tools/call", {
  name: "find_cheapest",
  arguments: { service: "telegram", country: "us" },
});
const price = called?.structuredContent?.price;
if (called.isError || typeof price !== "number") fail(`tools/call find_cheapest: ${JSON.stringify(called)}`);
ok(`tools/call find_cheapest → $${price} (${called.structuredContent.country})`);

const deadline = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms));
if (signal) {
  const tree = descendants(child.pid);
  let exe = "?";
  try {
    exe = readlinkSync(`/proc/${child.pid}/exe`);
  } catch {
    // not Linux
  }
  ok(`the started process (pid ${child.pid}) runs ${exe}, with ${tree.length} child process(es)`);
  child.kill(signal);
  let result;
  try {
    result = await Promise.race([exited, deadline(3000, "timeout")]);
  } catch {
    fail(`still running 3 s after ${signal}`);
  }
  const left = tree.filter(alive);
  if (left.length) fail(`${signal}: processes left behind: ${left.join(", ")}`);
  if (result.code === 0) fail(`${signal}: exit code 0, expected death by signal`);
  ok(`${signal} → exited (code ${result.code}, signal ${result.sig}), ${tree.length} child process(es) gone too`);
} else {
  child.stdin.end();
  let result;
  try {
    result = await Promise.race([exited, deadline(3000, "timeout")]);
  } catch {
    fail("still running 3 s after stdin closed");
  }
  if (result.code !== 0) fail(`exit after stdin closed: code ${result.code}, signal ${result.sig}`);
  ok("stdin closed → exit code 0");
}
console.error(`mcp smoke: ${passed} passed, 0 failed`);
