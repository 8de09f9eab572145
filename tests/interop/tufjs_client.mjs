// SPDX-License-Identifier: Apache-2.0
// An independent TUF client for the interop tests: serves a repository made by
// `upkeep publish` over HTTP on 127.0.0.1 (ephemeral port, bounded time and
// requests) and lets tuf-js's Updater refresh it and download targets.
//
// usage: node tufjs_client.mjs --repo PUBDIR --root TRUSTED_ROOT.json --work DIR
//                              [--target PATH=SHA256HEX ...]
// exit 0: refresh and every download succeeded and each file has the expected
//         SHA-256 (computed by the caller from the original payload)
// exit 1: tuf-js refused the repository (the message is printed)
// exit 2: the test harness itself failed (bad arguments, server error, timeout)

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Updater } from 'tuf-js';

const MAX_REQUESTS = 500;
const DEADLINE_MS = 60_000;

function usage(msg) {
  console.error(`tufjs_client: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--repo') { out.repo = v; i++; }
    else if (a === '--root') { out.root = v; i++; }
    else if (a === '--work') { out.work = v; i++; }
    else if (a === '--target') {
      const eq = (v || '').lastIndexOf('=');
      if (eq <= 0) usage(`--target needs PATH=SHA256, got ${v}`);
      out.targets.push({ path: v.slice(0, eq), sha256: v.slice(eq + 1) });
      i++;
    } else usage(`unknown argument ${a}`);
  }
  if (!out.repo || !out.root || !out.work) usage('--repo, --root and --work are required');
  return out;
}

// A static file server confined to the repository directory.
function serve(root) {
  let requests = 0;
  const base = fs.realpathSync(root);
  const server = http.createServer((req, res) => {
    requests++;
    if (requests > MAX_REQUESTS) {
      res.writeHead(503).end();
      server.close();
      return;
    }
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = path.resolve(base, '.' + rel);
    if (req.method !== 'GET' || !file.startsWith(base + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': data.length }).end(data);
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const metadataDir = path.join(args.work, 'metadata');
  const targetDir = path.join(args.work, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  // The client starts from the trusted root only, as a device fresh from the factory.
  fs.copyFileSync(args.root, path.join(metadataDir, 'root.json'));

  let server;
  try {
    server = await serve(args.repo);
  } catch (e) {
    usage(`cannot start the HTTP server: ${e.message}`);
  }
  const timer = setTimeout(() => {
    console.error('tufjs_client: timed out');
    process.exit(2);
  }, DEADLINE_MS);
  const { port } = server.address();
  const baseUrl = `http://127.0.0.1:${port}`;

  let status = 0;
  try {
    const updater = new Updater({
      metadataBaseUrl: `${baseUrl}/metadata`,
      targetBaseUrl: `${baseUrl}/targets`,
      metadataDir,
      targetDir,
      config: { fetchRetries: 0, fetchTimeout: 10_000 },
    });
    await updater.refresh();
    for (const t of args.targets) {
      const info = await updater.getTargetInfo(t.path);
      if (!info) throw new Error(`target ${t.path} not found in the repository`);
      const dest = path.join(targetDir, encodeURIComponent(t.path));
      await updater.downloadTarget(info, dest);
      const got = createHash('sha256').update(fs.readFileSync(dest)).digest('hex');
      if (got !== t.sha256) {
        // tuf-js accepted bytes that are not the payload the owner added: a real failure.
        console.error(`tufjs_client: ${t.path}: downloaded sha256 ${got}, expected ${t.sha256}`);
        status = 2;
        break;
      }
      console.log(`ok ${t.path} ${got}`);
    }
    if (status === 0) {
      const root = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json')));
      console.log(`tuf-js trusts root v${root.signed.version}`);
    }
  } catch (e) {
    console.log(`tuf-js refused: ${e.constructor.name}: ${e.message}`);
    status = 1;
  } finally {
    clearTimeout(timer);
    server.close();
  }
  process.exit(status);
}

main().catch((e) => usage(e.stack || String(e)));
