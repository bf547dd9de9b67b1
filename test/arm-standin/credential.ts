import type { AccessToken, TokenCredential } from '@azure/core-auth';

/** A credential that always answers with the token the stand-in was told to accept. */
export class FixedTokenCredential implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(private readonly token: string) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: this.token, expiresOnTimestamp: Date.now() + 3600_000 };
  }
}
