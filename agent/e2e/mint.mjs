// Mints an ID token as a misbehaving or foreign issuer would, for the agent's refusal cases.
// node mint.mjs JWKS_PRIVATE.json ISS AUD SUB ORGS_CSV EXP_OFFSET_SECONDS
import fs from 'node:fs';
import { importJWK, SignJWT } from 'jose';

const [jwksFile, iss, aud, sub, orgs, expOffset] = process.argv.slice(2);
const jwk = JSON.parse(fs.readFileSync(jwksFile, 'utf8')).keys[0];
const key = await importJWK(jwk, jwk.alg);
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ orgs: orgs ? orgs.split(',') : [], email: `${sub}@example.test` })
  .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid })
  .setIssuer(iss).setAudience(aud).setSubject(sub)
  .setIssuedAt(now - 60).setExpirationTime(now + Number(expOffset))
  .sign(key);
process.stdout.write(token);
