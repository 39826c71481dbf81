// Node half of scripts/solc-shim. argv: <repo root> [solc arguments...]
const fs = require("node:fs");
const path = require("node:path");
const root = process.argv[2];
const args = process.argv.slice(3);
const solc = require(path.join(root, "node_modules", "solc"));

if (args.includes("--version") || args.includes("-v")) {
  // forge, py-solc-x and slither parse this exact shape.
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
  process.exit(2);
}
const option = (name) => {
  const out = [];
  args.forEach((a, i) => {
    if (a === name && args[i + 1]) out.push(...args[i + 1].split(","));
    else if (a.startsWith(name + "=")) out.push(...a.slice(name.length + 1).split(","));
  });
  return out;
};
const bases = [process.cwd(), ...option("--base-path"), ...option("--include-path"), ...option("--allow-paths"), root];
const remaps = args.filter((a) => /^[^-][^=]*=/.test(a)).map((a) => a.split("="));
function findImport(p) {
  for (const [from, to] of remaps) if (p.startsWith(from)) p = to + p.slice(from.length);
  for (const base of [""].concat(bases)) {
    const f = path.resolve(base, p);
    if (fs.existsSync(f)) return { contents: fs.readFileSync(f, "utf8") };
  }
  return { error: `File not found: ${p}` };
}
// Values of options such as `--base-path DIR` (forge passes --allow-paths and --base-path) are not input files.
const takesValue = new Set(["--base-path", "--include-path", "--allow-paths", "--output-dir", "-o", "--evm-version"]);
const positional = args.filter((a, i) => !a.startsWith("-") && !a.includes("=") && !takesValue.has(args[i - 1]));
const input = positional.length ? fs.readFileSync(positional[positional.length - 1], "utf8") : fs.readFileSync(0, "utf8");
const out = solc.compile(input, { import: findImport });
fs.writeSync(1, out);
