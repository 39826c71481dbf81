#!/usr/bin/env node
// Compile contracts/ with solcjs (through its JavaScript API: the solcjs command line truncates piped
// output at 64 KiB) into ledger/artifacts/<Name>.json: ABI, bytecode, compiler settings and the hash
// of the sources, so the library never needs a compiler at run time. The same sources are compiled again
// for each of compiler.json's `otherEvmVersions` into ledger/artifacts/<evm>/<Name>.json (same ABI): the
// Shanghai build is what the library deploys on a node without Cancun (Ganache 7.9; ledger/chain/abi.py).
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
const version = solc.version();
if (!version.startsWith(config.solcVersion + "+")) {
  console.error(`solcjs ${version} does not match contracts/compiler.json solcVersion ${config.solcVersion}`);
  process.exit(1);
}
const sourceHash = createHash("sha256");
for (const [name, { content }] of Object.entries(srcs)) sourceHash.update(name + "\0" + content + "\0");
const digest = "0x" + sourceHash.digest("hex");

// The artifacts of one EVM version, by contract name.
function build(evmVersion) {
  const settings = {
    optimizer: config.optimizer,
    evmVersion,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources: srcs, settings }), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) console.error(e.formattedMessage);
  if (errors.length) {
    console.error(`the contracts do not compile for EVM ${evmVersion}`);
    process.exit(1);
  }
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
        compiler: { version, settings: { optimizer: config.optimizer, evmVersion } },
        sourceHash: digest,
      };
    }
  }
  return artifacts;
}
// Errors and events declared in interfaces also appear in the implementations' ABIs, so the
// library can decode every custom error from the deployable artifacts alone.

const check = process.argv.includes("--check");
const sets = [[config.evmVersion, outDir], ...(config.otherEvmVersions || []).map((evm) => [evm, path.join(outDir, evm)])];
const stale = [];
let oversize = false;
for (const [evm, dir] of sets) {
  const artifacts = build(evm);
  const where = path.relative(root, dir);
  for (const [name, artifact] of Object.entries(artifacts)) {
    const file = path.join(dir, `${name}.json`);
    const text = JSON.stringify(artifact, null, 1) + "\n";
    const size = (artifact.deployedBytecode.length - 2) / 2;
    if (size > 24576) oversize = true;
    if (check) {
      if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(path.relative(outDir, file));
    } else {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(file, text);
      console.error(`${where}/${name} (${evm}): ${size} bytes deployed${size > 24576 ? " (OVER the 24,576-byte limit)" : ""}`);
    }
  }
  if (check) {
    const present = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    for (const f of present) if (!artifacts[f.replace(/\.json$/, "")]) stale.push(path.relative(outDir, path.join(dir, f)));
  }
}
if (oversize) {
  console.error("a contract's deployed code is over EIP-170's 24,576 bytes: no node would accept it");
  process.exit(1);
}
if (check) {
  if (stale.length) {
    console.error(`artifacts out of date: ${stale.join(", ")}; run: node scripts/compile.mjs`);
    process.exit(1);
  }
  console.error("artifacts match the sources");
}
