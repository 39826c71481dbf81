#!/usr/bin/env node
// Compile contracts/ with solcjs (through its JavaScript API: the solcjs command line truncates piped
// output at 64 KiB) into ledger/artifacts/<Name>.json: ABI, bytecode, compiler settings and the hash
// of the sources, so the library never needs a compiler at run time.
//
//   node scripts/compile.mjs            write the artifacts
//   node scripts/compile.mjs --check    exit 1 when the artifacts differ from a fresh compile
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const config = JSON.parse(fs.readFileSync(path.join(root, "contracts", "compiler.json"), "utf8"));
const solc = require("solc");
const outDir = path.join(root, "ledger", "artifacts");

function sources() {
  const found = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!config.exclude.includes(path.relative(root, full))) walk(full);
      } else if (entry.name.endsWith(".sol") && !entry.name.endsWith(".t.sol")) {
        found[path.relative(root, full)] = { content: fs.readFileSync(full, "utf8") };
      }
    }
  };
  walk(path.join(root, "contracts"));
  return found;
}

function findImport(importPath) {
  for (const [prefix, target] of Object.entries(config.remappings)) {
    if (importPath.startsWith(prefix)) {
      const file = path.join(root, target, importPath.slice(prefix.length));
      if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
    }
  }
  const local = path.join(root, importPath);
  if (fs.existsSync(local)) return { contents: fs.readFileSync(local, "utf8") };
  return { error: `not found: ${importPath}` };
}

const srcs = sources();
const settings = {
  optimizer: config.optimizer,
  evmVersion: config.evmVersion,
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
};
const version = solc.version();
if (!version.startsWith(config.solcVersion + "+")) {
  console.error(`solcjs ${version} does not match contracts/compiler.json solcVersion ${config.solcVersion}`);
  process.exit(1);
}
const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources: srcs, settings }), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const sourceHash = createHash("sha256");
for (const [name, { content }] of Object.entries(srcs)) sourceHash.update(name + "\0" + content + "\0");
const digest = "0x" + sourceHash.digest("hex");

const artifacts = {};
for (const [file, contracts] of Object.entries(output.contracts)) {
  if (!srcs[file]) continue; // libraries pulled in from node_modules
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object || c.abi.length === 0) continue; // interfaces, abstract contracts, internal libraries
    artifacts[name] = {
      contractName: name,
      sourceName: file,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      compiler: { version, settings: { optimizer: config.optimizer, evmVersion: config.evmVersion } },
      sourceHash: digest,
    };
  }
}
// Errors and events declared in interfaces also appear in the implementations' ABIs, so the
// library can decode every custom error from the deployable artifacts alone.

const check = process.argv.includes("--check");
let stale = [];
for (const [name, artifact] of Object.entries(artifacts)) {
  const file = path.join(outDir, `${name}.json`);
  const text = JSON.stringify(artifact, null, 1) + "\n";
  const size = (artifact.deployedBytecode.length - 2) / 2;
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(name);
  } else {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(file, text);
    console.error(`${name}: ${size} bytes deployed${size > 24576 ? " (OVER the 24,576-byte limit)" : ""}`);
  }
}
if (check) {
  const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
  for (const f of present) if (!artifacts[f.replace(/\.json$/, "")]) stale.push(f);
  if (stale.length) {
    console.error(`artifacts out of date: ${stale.join(", ")}; run: node scripts/compile.mjs`);
    process.exit(1);
  }
  console.error("artifacts match the sources");
}
