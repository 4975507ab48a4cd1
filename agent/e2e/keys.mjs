// Writes a private JWKS (RS256 + ES256) for the provider: node keys.mjs OUT.json
import fs from 'node:fs';
import { generateKeyPair, exportJWK } from 'jose';

const out = process.argv[2];
const keys = [];
for (const [alg, kid] of [['RS256', 'rs-' + Date.now()], ['ES256', 'es-' + Date.now()]]) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  keys.push({ ...jwk, kid, alg, use: 'sig' });
}
fs.writeFileSync(out, JSON.stringify({ keys }), { mode: 0o600 });
