// Generates src/generated/schema.ts from the OpenAPI contract with openapi-typescript.
//
//   node scripts/generate.mjs           write the committed file   (npm run generate)
//   node scripts/generate.mjs --check   regenerate into a temporary folder and compare with
//                                       the committed file, print a diff and exit 1 when they
//                                       differ; never writes the committed file
//                                       (npm run check:generated)
//
// The contract is ../../openapi.yaml unless OPENAPI_SPEC names another file (relative paths
// are taken from this package's folder). openapi-typescript's own `--check` only says
// "not up-to-date", hence this wrapper, which shows what differs and how to fix it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createTwoFilesPatch } from "diff";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const committed = join(pkgDir, "src", "generated", "schema.ts");
const spec = resolve(pkgDir, process.env["OPENAPI_SPEC"] || join("..", "..", "openapi.yaml"));
const check = process.argv.includes("--check");
/** A path as short as it reads well: relative to the working folder when inside the repository. */
const show = (/** @type {string} */ file) =>
  relative(resolve(pkgDir, "..", ".."), file).startsWith("..") ? file : relative(process.cwd(), file);
// The CLI as `npx openapi-typescript` runs it, found from the installed package's `bin`.
const cliPkg = createRequire(import.meta.url).resolve("openapi-typescript/package.json");
const cli = join(dirname(cliPkg), JSON.parse(readFileSync(cliPkg, "utf8")).bin["openapi-typescript"]);

/**
 * Runs the openapi-typescript CLI on the contract, writing `output`; exits if it fails.
 * @param {string} output
 */
function generate(output) {
  const run = spawnSync(process.execPath, [cli, spec, "--output", output], {
    cwd: pkgDir,
    encoding: "utf8",
  });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    console.error(`openapi-typescript failed on ${spec} (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  return run;
}

if (!check) {
  process.stdout.write(generate(committed).stdout);
  process.exit(0);
}

const tmp = mkdtempSync(join(tmpdir(), "todo-api-client-"));
try {
  const fresh = join(tmp, "schema.ts");
  generate(fresh);
  // Compare text, not line endings: a Windows checkout may turn LF into CRLF.
  const read = (/** @type {string} */ file) => readFileSync(file, "utf8").replace(/\r\n/g, "\n");
  let old;
  try {
    old = read(committed);
  } catch {
    old = "";
  }
  const now = read(fresh);
  const shown = show(committed);
  if (old === now) {
    console.log(`${shown} is up to date with ${show(spec)}`);
  } else {
    process.stderr.write(
      createTwoFilesPatch(
        `${shown} (committed)`,
        `${shown} (generated from ${show(spec)})`,
        old,
        now,
        undefined,
        undefined,
        { context: 3 },
      ),
    );
    console.error(
      `\n${shown} is out of date with ${show(spec)}.\n` +
        "Fix: run `npm run generate` in clients/typescript and commit the result.",
    );
    process.exitCode = 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
