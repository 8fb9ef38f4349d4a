// Summarises a V8 CPU profile (node --cpu-prof): self time by function and by package, the top
// entries first. `node bench/lib/profile-summary.mjs <file.cpuprofile> [n]`
import fs from "node:fs";

const [file, n = "30"] = process.argv.slice(2);
const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map();
const pkg = new Map();
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id);
  const where = f.url.replace(/^.*node_modules\/(\.pnpm\/)?/, "").split("/").slice(0, 2).join("/") || f.url || "(native)";
  const key = `${f.functionName || "(anonymous)"}  ${where}:${f.lineNumber}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const p = f.url.includes("node_modules") ? where.split("@")[0] + (where.startsWith("@") ? where.split("/")[0] : "") : f.url.startsWith("node:") ? "node:" : f.url ? "postern" : f.functionName;
  pkg.set(p, (pkg.get(p) ?? 0) + us);
}
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
console.log(`total ${(total / 1e6).toFixed(2)} s sampled`);
for (const [k, us] of top(pkg)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
console.log("");
for (const [k, us] of top(fn)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
