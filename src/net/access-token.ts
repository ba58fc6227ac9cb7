/**
 * Access tokens of arbor's servers (`arbor view`, `arbor sim-serve --rosbridge`): loopback needs
 * none; any other interface needs one, given or generated, and a request carries it as `?token=`
 * or `Authorization: Bearer`. One module, so every server that leaves loopback asks the same way.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Host names that reach only this machine. */
export const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The token a server on `host` requires: `given`, or a fresh one when the host is not loopback,
 * or none (undefined) on loopback without one. `flag` names the option in the error.
 */
export function accessToken(host: string, given: string | undefined, flag = '--token'): string | undefined {
  const token = given ?? (LOOPBACK.has(host) ? undefined : randomBytes(16).toString('hex'));
  if (token !== undefined && token.length < 8) throw new Error(`${flag} must have at least 8 characters; got ${token.length}.`);
  return token;
}

/** The token a request offers: `?token=` first, then `Authorization: Bearer`. */
export function offeredToken(req: IncomingMessage, url = new URL(req.url ?? '/', 'http://server')): string | undefined {
  return url.searchParams.get('token') ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
}

/** Whether `given` is `token`, compared in constant time. */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
