#!/usr/bin/env node
// Launcher for the native `virtualsms-mcp` binary (the esbuild/Biome pattern): npm installs only
// the per-platform package that matches this machine (listed in optionalDependencies, each with
// `os`/`cpu`); this file finds its binary and hands the process over to it.
//
// Rules: nothing is ever written to stdout (stdout is the MCP channel); no network, no install
// script, no download at first run; the binary's exit code and signals are the launcher's.
// VIRTUALSMS_MCP_BINARY=/path/to/virtualsms-mcp overrides the lookup (e.g. a `cargo install` build).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

/** `${process.platform}-${process.arch}` → the npm package holding that binary. */
const PLATFORM_PACKAGES = {
  "linux-x64": "@virtualsms/mcp-linux-x64",
  "linux-arm64": "@virtualsms/mcp-linux-arm64",
  "darwin-x64": "@virtualsms/mcp-darwin-x64",
  "darwin-arm64": "@virtualsms/mcp-darwin-arm64",
  "win32-x64": "@virtualsms/mcp-win32-x64",
};
const OVERRIDE = "VIRTUALSMS_MCP_BINARY";

function fail(message) {
  process.stderr.write(`virtualsms-mcp: ${message}\n`);
  process.exit(1);
}

function findBinary() {
  const override = process.env[OVERRIDE];
  if (override) {
    if (!fs.existsSync(override)) fail(`${OVERRIDE}=${override}: no such file`);
    return override;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[platform];
  const fallback =
    `Install from source with \`cargo install virtualsms-mcp\` and run \`virtualsms-mcp\` ` +
    `directly, or set ${OVERRIDE} to a binary.`;
  if (!pkg) {
    fail(
      `no prebuilt binary for ${platform}. Supported: ${Object.keys(PLATFORM_PACKAGES).join(", ")}. ` +
        fallback,
    );
  }
  const exe = process.platform === "win32" ? "virtualsms-mcp.exe" : "virtualsms-mcp";
  try {
    return require.resolve(`${pkg}/bin/${exe}`);
  } catch {
    fail(
      `the package ${pkg} (the binary for ${platform}) is not installed. npm skips it when ` +
        `optional dependencies are omitted (--omit=optional, --no-optional) or when the lockfile ` +
        `was made on another platform; reinstall virtualsms-mcp without those. ${fallback}`,
    );
  }
  return undefined; // unreachable: fail() exits
}

function ensureExecutable(binary) {
  if (process.platform === "win32") return;
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    try {
      fs.chmodSync(binary, 0o755); // some tools unpack tarballs without the mode bits
    } catch {
      // spawn/execve below reports the real problem
    }
  }
}

function run() {
  const binary = findBinary();
  ensureExecutable(binary);
  const args = process.argv.slice(2);

  // Node >= 22.15 (Unix): replace this process. The binary then owns the pid, stdio, signals
  // and exit code, and no Node process sits in between.
  if (typeof process.execve === "function") {
    try {
      process.execve(binary, [binary, ...args], process.env);
    } catch (e) {
      // execve only returns on failure; fall back to spawning (it reports the error clearly).
      process.stderr.write(`virtualsms-mcp: exec failed (${e.message}); spawning instead\n`);
    }
  }

  const { spawn } = require("node:child_process");
  const child = spawn(binary, args, { stdio: "inherit", windowsHide: true });
  const forwarded = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
  const forward = (signal) => {
    try {
      child.kill(signal);
    } catch {
      // the child is already gone
    }
  };
  for (const signal of forwarded) {
    try {
      process.on(signal, forward);
    } catch {
      // not every signal exists on every platform
    }
  }
  child.on("error", (e) => fail(`cannot start ${binary}: ${e.message}`));
  child.on("exit", (code, signal) => {
    if (signal) {
      // Die of the same signal, so the parent sees what the binary saw.
      for (const s of forwarded) process.removeAllListeners(s);
      try {
        process.kill(process.pid, signal);
      } catch {
        // fall through
      }
      process.exit(128 + (require("node:os").constants.signals[signal] || 0));
    }
    process.exit(code === null ? 1 : code);
  });
}

run();
