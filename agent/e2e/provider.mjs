// The test's OpenID Provider: oidc-provider (npm) over TLS on 127.0.0.1 with the device flow.
// Usage: node provider.mjs PORT CERT KEY JWKS_PRIVATE_JSON [ID_TOKEN_TTL_SECONDS]
// Users (dev interactions: any password): alice (orgs: myorg), bob (orgs: otherorg),
// carol (no org claim).
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, certFile, keyFile, jwksFile, ttl] = process.argv.slice(2);
const idTokenTtl = Number(ttl || 3600);
const users = {
  alice: { email: 'alice@example.test', orgs: ['myorg'] },
  bob: { email: 'bob@example.test', orgs: ['otherorg'] },
  carol: { email: 'carol@example.test' },
};

const issuer = `https://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'eci-agent',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  jwks: JSON.parse(fs.readFileSync(jwksFile, 'utf8')),
  cookies: { keys: ['eci-e2e-cookie-key'] },
  features: { deviceFlow: { enabled: true }, devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email'], orgs: ['orgs'] },
  scopes: ['openid', 'offline_access', 'email', 'orgs'],
  // The org claim goes into the ID token itself (the agent has no userinfo step).
  conformIdTokenClaims: false,
  ttl: { IdToken: idTokenTtl, AccessToken: idTokenTtl, DeviceCode: 600, RefreshToken: 86400 },
  issueRefreshToken: async (ctx, client, code) =>
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  async findAccount(ctx, id) {
    if (!users[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...users[id] };
      },
    };
  },
  // Consent is granted by the dev interaction pages; offline_access needs it explicitly.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    return undefined;
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = https.createServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
}, provider.callback());
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
