// SPDX-License-Identifier: Apache-2.0
// A device for tests/interop/test_server_cli.sh: enrols, checks in and
// reports deployment states to upkeep-server, signing every request with
// http-message-signatures@1.0.6 (an implementation independent of ours) and
// an Ed25519 identity key kept as PKCS#8 PEM.
//
// usage: node srv_device.mjs keygen KEYFILE               prints the device id
//        node srv_device.mjs URL FLEET KEYFILE enrol HW   prints the answer
//        node srv_device.mjs URL FLEET KEYFILE checkin [INSTALLED_JSON]
//        node srv_device.mjs URL FLEET KEYFILE report DEPLOYMENT STATE [REASON]
// exit 0 on a 2xx answer, 1 otherwise (the answer is printed either way).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import hms from 'http-message-signatures';

const { httpbis, createSigner } = hms;

function die(msg) {
  console.error(`srv_device: ${msg}`);
  process.exit(2);
}

// The TUF key object and its id: hex SHA-256 of its canonical JSON.
function tufKey(privateKey) {
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  const key = { keytype: 'ed25519', keyval: { public: raw.toString('hex') }, scheme: 'ed25519' };
  const canonical = `{"keytype":"ed25519","keyval":{"public":"${key.keyval.public}"},"scheme":"ed25519"}`;
  return { key, id: createHash('sha256').update(canonical).digest('hex') };
}

async function send(base, privateKey, method, path, bodyObj) {
  const { id } = tufKey(privateKey);
  const body = bodyObj === null ? null : JSON.stringify(bodyObj);
  const headers = { 'content-type': 'application/json' };
  const fields = ['@method', '@path'];
  if (body !== null) {
    headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    fields.push('content-digest');
  }
  const signed = await httpbis.signMessage({
    key: createSigner(privateKey, 'ed25519', id),
    name: 'sig1',
    fields,
    params: ['created', 'keyid', 'nonce'],
    paramValues: { nonce: randomBytes(18).toString('base64') },
  }, { method, url: `${base}${path}`, headers });
  const res = await fetch(`${base}${path}`, { method, headers: signed.headers, body: body ?? undefined,
    signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  console.log(text);
  process.exit(res.status >= 200 && res.status < 300 ? 0 : 1);
}

const args = process.argv.slice(2);
if (args[0] === 'keygen') {
  if (!args[1]) die('usage: keygen KEYFILE');
  const { privateKey } = generateKeyPairSync('ed25519');
  fs.writeFileSync(args[1], privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  console.log(tufKey(privateKey).id);
  process.exit(0);
}
const [base, fleet, keyfile, cmd, ...rest] = args;
if (!cmd) die('usage: URL FLEET KEYFILE enrol|checkin|report ...');
const privateKey = createPrivateKey(fs.readFileSync(keyfile));
const f = `/v1/fleets/${fleet}`;
if (cmd === 'enrol') {
  await send(base, privateKey, 'POST', `${f}/enrol`, { public_key: tufKey(privateKey).key, hardware_id: rest[0] });
} else if (cmd === 'checkin') {
  await send(base, privateKey, 'POST', `${f}/checkin`, rest[0] ? { installed: JSON.parse(rest[0]) } : {});
} else if (cmd === 'report') {
  const body = { state: rest[1] };
  if (rest[2]) body.reason = rest[2];
  await send(base, privateKey, 'POST', `${f}/deployments/${rest[0]}/status`, body);
} else {
  die(`unknown command ${cmd}`);
}
