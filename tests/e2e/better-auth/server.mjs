// Test harness: the real better-auth (memory adapter, email+password, jwt plugin)
// over plain HTTP on 127.0.0.1, for the Rust end-to-end tests. See README.md.
import http from "node:http";
import { parseArgs } from "node:util";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt, createJwk } from "better-auth/plugins/jwt";

// stdout carries exactly one line (the ready line). Anything else that a
// library prints with console.log/info/debug is sent to stderr instead.
const log = (...args) => console.error("[harness]", ...args);
console.log = console.info = console.debug = console.error;

const KEY_PAIR_CONFIGS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};

const { values: args } = parseArgs({
  options: {
    alg: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
const keyPairConfig = KEY_PAIR_CONFIGS[args.alg];
const port = Number(args.port);
if (!keyPairConfig || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node server.mjs --alg <EdDSA|ES256|RS256|PS256> [--port <n>]");
  process.exit(2);
}

let handleAuth = null; // set once the port, and so baseURL, is known
let handleRotate = null;

const server = http.createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/test/rotate") {
    if (req.method !== "POST") return sendJson(res, 405, { error: "POST only" });
    return handleRotate(req, res).catch((err) => {
      log("rotate failed:", err);
      sendJson(res, 500, { error: String(err?.message ?? err) });
    });
  }
  return handleAuth(req, res);
});

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

// Port 0 means "any free port": listen first, then build baseURL from the
// port we actually got, because better-auth uses baseURL as the JWT iss/aud.
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, "127.0.0.1", resolve);
});
const url = `http://127.0.0.1:${server.address().port}`;

const jwtOptions = { jwks: { keyPairConfig } };
const auth = betterAuth({
  baseURL: url,
  secret: "e2e-test-secret-not-for-production-0123456789abcdef",
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  plugins: [jwt(jwtOptions)],
  // Sign-up is limited to 3 per 10 s per IP when NODE_ENV=production; tests
  // sign up several users in quick succession.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { log: (level, message, ...rest) => log(level, message, ...rest) },
});
const authContext = await auth.$context;

// Mint the first signing key now through the plugin's own JWKS endpoint, so
// the key set is fixed before any client request (otherwise concurrent first
// calls to /token and /jwks could each mint one).
await auth.api.getJwks();

handleAuth = toNodeHandler(auth);

// Rotation, the way the plugin itself does it: createJwk() stores a new key
// and signing always uses the newest live key of the configured alg. Older
// keys have no expiresAt (no rotationInterval), so they stay in the JWKS.
handleRotate = async (req, res) => {
  req.resume(); // ignore any body
  const before = (await auth.api.getJwks()).keys;
  // Keys are ordered by createdAt (ms); make sure the new one is strictly newer.
  await new Promise((r) => setTimeout(r, 5));
  await createJwk({ context: authContext }, jwtOptions);
  const kids = (await auth.api.getJwks()).keys.map((k) => k.kid);
  log(`rotated: ${before.length} -> ${kids.length} keys, newest ${kids.at(-1)}`);
  sendJson(res, 200, { kids });
};

let stopping = false;
function shutdown(why) {
  if (stopping) return;
  stopping = true;
  log(`shutting down (${why})`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
// The spawning test holds our stdin open; EOF means it is gone (even if it
// crashed), so do not outlive it.
process.stdin.on("end", () => shutdown("stdin closed"));
process.stdin.on("close", () => shutdown("stdin closed"));
process.stdin.on("error", () => shutdown("stdin error"));
process.stdin.resume();

process.stdout.write(JSON.stringify({ url }) + "\n");
log(`ready on ${url} (alg ${args.alg})`);
