/**
 * The link factory: a backend name picks the transport, and every link comes back wrapped in a
 * `SafeLink`, so no command of any episode bypasses the safety envelope.
 *   sim                 the in-process MuJoCo world of the scenario
 *   rosbridge://H:P     a robot (or `arbor sim-serve`) behind a rosbridge v2 WebSocket (its
 *                       access token, when it asks one, in ARBOR_ROSBRIDGE_TOKEN: never stored)
 *   ros2[:NAMESPACE]    a ROS 2 robot through rclnodejs (a sourced ROS 2 distro)
 */
import type { LoadedScenario } from '../scenario/load.ts';
import { SafeLink } from './safe-link.ts';
import { SimLink } from './sim-link.ts';

/** A parsed backend. */
export type Backend =
  | { kind: 'sim' }
  | { kind: 'rosbridge'; url: string }
  | { kind: 'ros2'; namespace: string };

/** Parses `sim`, `rosbridge://HOST:PORT` or `ros2[:NAMESPACE]`; throws naming the forms. */
export function parseBackend(text: string): Backend {
  if (text === 'sim') return { kind: 'sim' };
  const bridge = /^rosbridge:\/\/([^/:\s]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(text);
  if (bridge) {
    const port = Number(bridge[2]);
    if (port < 1 || port > 65535) throw new Error(`--backend ${text}: the port must be in 1..65535.`);
    return { kind: 'rosbridge', url: `ws://${bridge[1]}:${port}` };
  }
  const ros2 = /^ros2(?::(\/?[A-Za-z][A-Za-z0-9_/]*))?$/.exec(text);
  if (ros2) return { kind: 'ros2', namespace: ros2[1] ? `/${ros2[1].replace(/^\/+/, '').replace(/\/+$/, '')}` : '' };
  throw new Error(`--backend '${text}' is not a backend; use sim, rosbridge://HOST:PORT or ros2[:NAMESPACE].`);
}

/** How network links behave (the sim ignores these). */
export interface LinkOptions {
  /** Seconds a reset waits for a dropped robot to come back (default 30). */
  reconnectSeconds?: number;
}

/** Opens a link to the scenario's robot on `backend`, wrapped in its safety envelope. */
export async function createLink(scenario: LoadedScenario, backend: Backend = { kind: 'sim' }, options: LinkOptions = {}): Promise<SafeLink> {
  switch (backend.kind) {
    case 'sim':
      return new SafeLink(await SimLink.create(scenario));
    // Network links load on demand: sim workers never pay for roslib, the protocol code or rclnodejs.
    case 'rosbridge': {
      const [{ NetworkLink }, { connectRosbridge }] = await Promise.all([import('./network-link.ts'), import('./rosbridge.ts')]);
      return new SafeLink(await NetworkLink.open(scenario, { ...options, backend: 'rosbridge', connect: () => connectRosbridge(backend.url, { token: process.env.ARBOR_ROSBRIDGE_TOKEN || undefined }) }));
    }
    case 'ros2': {
      const [{ NetworkLink }, { connectRos2 }] = await Promise.all([import('./network-link.ts'), import('./ros2.ts')]);
      return new SafeLink(await NetworkLink.open(scenario, { ...options, backend: 'ros2', namespace: backend.namespace, connect: () => connectRos2(backend.namespace) }));
    }
  }
}
