// Preloaded by scripts/npm-pack.sh (`node --require`) to run the launcher as if on a platform
// with no prebuilt binary.
Object.defineProperty(process, "platform", { value: "freebsd" });
Object.defineProperty(process, "arch", { value: "riscv64" });
