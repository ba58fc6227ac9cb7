/**
 * The page's address after `#`: what it shows, so a link or a reload opens the same view.
 * `#study=ID&episode=N&compare=M` replays, `#live=1&study=ID` watches, `#model=1` shows the model.
 */

/** What the address asks for. */
export interface Route {
  /** Study id. */
  study?: string;
  /** Episode to replay (A). */
  episode?: number;
  /** Episode to replay beside it (B). */
  compare?: number;
  /** Watch live studies. */
  live: boolean;
  /** Show the model at rest. */
  model: boolean;
}

/** Reads an address fragment (`location.hash`, with or without its `#`). */
export function parseRoute(hash: string): Route {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const id = (key: string) => {
    const n = Number(p.get(key));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  return { study: p.get('study') || undefined, episode: id('episode'), compare: id('compare'), live: p.has('live'), model: p.has('model') };
}

/** Writes a route as an address fragment (without the `#`), leaving out what it does not say. */
export function formatRoute(route: Partial<Route>): string {
  const p = new URLSearchParams();
  if (route.model) p.set('model', '1');
  if (route.live) p.set('live', '1');
  if (route.study) p.set('study', route.study);
  if (route.episode) p.set('episode', String(route.episode));
  if (route.compare) p.set('compare', String(route.compare));
  return p.toString();
}
