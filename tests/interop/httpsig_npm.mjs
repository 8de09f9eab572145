// SPDX-License-Identifier: Apache-2.0
// The other side of upkeep's RFC 9421 interop test, using
// http-message-signatures@1.0.6 (an independent implementation) with ed25519.
//
// usage: node httpsig_npm.mjs sign DIR    writes DIR/npm-signed.json: requests
//                                         this library signed, each with the
//                                         outcome upkeep's verifier must reach
//        node httpsig_npm.mjs verify DIR  checks DIR/upkeep-signed.json: requests
//                                         upkeep signed, each "ok" or "fail"
// exit 0: every case behaved as expected; 1: some did not; 2: harness error.
// Request JSON: {name, expect, method, scheme, authority, path, query|null,
//                body_b64|null, headers: [[name, value], ...]}

import { createHash, generateKeyPairSync, createPublicKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import hms from 'http-message-signatures';

const { httpbis, createSigner, createVerifier } = hms;
const KEYID = 'npm-device-1';

function die(msg) {
  console.error(`httpsig_npm: ${msg}`);
  process.exit(2);
}

function urlOf(c) {
  return `${c.scheme}://${c.authority}${c.path}${c.query === null ? '' : `?${c.query}`}`;
}

// Field lines of one name become an array, as Node's own request headers do.
function headersOf(list) {
  const out = {};
  for (const [name, value] of list) {
    const k = name.toLowerCase();
    if (k in out) out[k] = [].concat(out[k], value);
    else out[k] = value;
  }
  return out;
}

function contentDigest(body) {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

// Turn a signed request of the library back into our JSON shape.
function toCase(name, expect, c, signed, body) {
  const headers = [];
  for (const [k, v] of Object.entries(signed.headers)) {
    for (const one of [].concat(v)) headers.push([k, one]);
  }
  return { name, expect, method: c.method, scheme: c.scheme, authority: c.authority,
    path: c.path, query: c.query, body_b64: body === null ? null : Buffer.from(body).toString('base64'),
    headers };
}

async function sign(dir) {
  const now = Math.floor(Date.now() / 1000);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').privateKey;
  const nonce = () => randomBytes(18).toString('base64');
  const cases = [];

  const signWith = async (key, c, body, fields, params, values) => {
    const headers = { ...c.headers };
    if (body !== null) headers['content-digest'] = contentDigest(body);
    return httpbis.signMessage({
      key: createSigner(key, 'ed25519', KEYID),
      name: 'sig1',
      fields,
      params,
      paramValues: { created: new Date((now - 5) * 1000), ...values },
    }, { method: c.method, url: urlOf(c), headers });
  };

  // 1. A device check-in: POST with a body, every parameter.
  const post = { method: 'POST', scheme: 'https', authority: 'updates.example:8443',
    path: '/v1/fleets/7/checkin', query: 'full=1', headers: { 'content-type': 'application/json' } };
  const body = '{"device": "pi-7", "installed": {"image": "1.4.2"}}';
  const postFields = ['@method', '@path', '@query', '@authority', 'content-type', 'content-digest'];
  const allParams = ['created', 'expires', 'keyid', 'nonce', 'alg', 'tag'];
  let s = await signWith(privateKey, post, body, postFields, allParams, { nonce: nonce(), tag: 'upkeep' });
  cases.push(toCase('post-checkin', 'ok', post, s, body));
  cases.push(toCase('post-tampered-body', 'hash mismatch', post, s, '{"device": "pi-8"}'));
  cases.push(toCase('post-tampered-path', 'signature', { ...post, path: '/v1/fleets/8/checkin' }, s, body));
  // Same path, but the signed digest swapped for the digest of another body.
  {
    const forged = toCase('post-swapped-digest', 'signature', post, s, '{}');
    forged.headers = forged.headers.map(([k, v]) => [k, k === 'content-digest' ? contentDigest('{}') : v]);
    cases.push(forged);
  }

  // 2. GET with derived components and a field sent as two lines.
  const get = { method: 'GET', scheme: 'https', authority: 'updates.example',
    path: '/v1/director/pi-7/targets.json', query: 'v=3&x=a%20b',
    headers: { accept: 'application/json', 'x-upkeep-list': ['a, b', 'c'] } };
  s = await signWith(privateKey, get, null,
    ['@method', '@target-uri', '@scheme', '@request-target', '@authority', '@path', '@query',
      'accept', 'x-upkeep-list'],
    ['created', 'keyid', 'nonce'], { nonce: nonce() });
  cases.push(toCase('get-derived', 'ok', get, s, null));
  cases.push(toCase('get-tampered-list', 'signature',
    { ...get, headers: { ...get.headers } }, { headers: { ...s.headers, 'x-upkeep-list': ['a, b', 'd'] } }, null));

  // 3. The minimum the server accepts, then what it must refuse.
  const del = { method: 'DELETE', scheme: 'https', authority: 'updates.example', path: '/v1/x',
    query: null, headers: {} };
  const minimal = ['created', 'keyid', 'nonce'];
  s = await signWith(privateKey, del, null, ['@method', '@path'], minimal, { nonce: nonce() });
  cases.push(toCase('delete-minimal', 'ok', del, s, null));
  s = await signWith(other, del, null, ['@method', '@path'], minimal, { nonce: nonce() });
  cases.push(toCase('delete-wrong-key', 'signature', del, s, null));
  s = await signWith(privateKey, del, null, ['@method', '@path'], minimal,
    { nonce: nonce(), created: new Date((now - 1000) * 1000) });
  cases.push(toCase('delete-stale', 'expired', del, s, null));
  s = await signWith(privateKey, del, null, ['@method', '@path'], ['created', 'keyid'], {});
  cases.push(toCase('delete-no-nonce', 'signature', del, s, null));
  s = await signWith(privateKey, del, null, ['@method'], minimal, { nonce: nonce() });
  cases.push(toCase('delete-no-path', 'signature', del, s, null));

  const doc = { now, keyid: KEYID, public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }), cases };
  fs.writeFileSync(path.join(dir, 'npm-signed.json'), JSON.stringify(doc, null, 1));
  console.log(`httpsig_npm: signed ${cases.length} requests`);
}

async function verifyOne(doc, c) {
  const pub = createPublicKey(doc.public_key_pem);
  const body = c.body_b64 === null || c.body_b64 === undefined ? null : Buffer.from(c.body_b64, 'base64');
  const headers = headersOf(c.headers);
  // The library signs and checks the Content-Digest field, not the body it
  // describes; the server's half of that check is done here with node:crypto.
  if (body !== null) {
    const got = [].concat(headers['content-digest'] ?? []).join(', ');
    if (!got.split(',').map((m) => m.trim()).includes(contentDigest(body))) return 'content-digest mismatch';
  }
  const result = await httpbis.verifyMessage({
    keyLookup: async (params) => (params.keyid === doc.keyid
      ? { id: doc.keyid, algs: ['ed25519'], verify: createVerifier(pub, 'ed25519') } : null),
    requiredFields: ['@method', '@path'],
    requiredParams: ['created', 'keyid', 'nonce'],
    maxAge: 300,
    tolerance: 5,
  }, { method: c.method, url: urlOf(c), headers });
  return result === true ? 'ok' : `verifyMessage returned ${result}`;
}

async function verify(dir) {
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'upkeep-signed.json'), 'utf8'));
  let bad = 0;
  if (!Array.isArray(doc.cases) || doc.cases.length === 0) die('no cases');
  for (const c of doc.cases) {
    let got;
    try {
      got = await verifyOne(doc, c);
    } catch (e) {
      got = `threw ${e.constructor.name}: ${e.message}`;
    }
    const pass = (c.expect === 'ok') === (got === 'ok');
    console.log(`  upkeep -> npm: ${c.name.padEnd(22)} ${got}${pass ? '' : `   UNEXPECTED (want ${c.expect})`}`);
    if (!pass) bad++;
  }
  if (bad) {
    console.error(`httpsig_npm: ${bad} of ${doc.cases.length} cases did not behave as expected`);
    process.exit(1);
  }
}

const [cmd, dir] = process.argv.slice(2);
if (!dir || !fs.existsSync(dir)) die('usage: httpsig_npm.mjs sign|verify DIR');
if (cmd === 'sign') await sign(dir);
else if (cmd === 'verify') await verify(dir);
else die(`unknown command ${cmd}`);
