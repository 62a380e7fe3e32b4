// A real OpenID provider for the single sign-on tests, on a loopback port.
// Usage: node provider.mjs CONFIG.json, where the file names the port, the clients and a
// file of accounts ({"alice": {"email": ..., "groups": [...], ...}}). The accounts file is read
// again at every sign-in, so a test can change someone's groups or department between logins.
// The login page is oidc-provider's development one: any account id, any password.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;

function account(id) {
  const accounts = JSON.parse(readFileSync(config.accounts, 'utf8'));
  return accounts[id];
}

const provider = new Provider(issuer, {
  clients: config.clients,
  cookies: { keys: ['test-only-cookie-key'] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'department', 'job_title', 'groups'],
  },
  features: { devInteractions: { enabled: true } },
  // First-party client: consent is implied, so the login page is the only page shown.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    if (!account(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account(id) };
      },
    };
  },
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
