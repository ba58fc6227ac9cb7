/**
 * The arm's joint state, merged from every `/joint_states` message that carries some of its joints.
 * On a lab arm `/joint_states` is shared: a gripper driver, a second arm or a mobile base publish
 * their own JointState there beside the arm's broadcaster, and one driver may publish part of the
 * arm. So a message counts for the joints it carries, by name; a joint keeps its newest value (an
 * older message arriving late does not roll it back); a message with none of the arm's joints is
 * someone else's and ignored. The state exists once every joint has been carried, and it is as old
 * as its oldest joint.
 */
import type { JointStateMsg } from './ros-messages.ts';

/** The arm's state in robot.yaml order. */
export interface ArmState {
  /** The stamp (s) of the oldest joint value in it. */
  stamp: number;
  /** Joint positions. */
  position: Float64Array;
  /** Joint velocities (0 where the messages carried none). */
  velocity: Float64Array;
  /** Joint efforts (0 where the messages carried none). */
  effort: Float64Array;
}

/** Other joints' names listed in messages, at most this many (for the message that names them). */
const OTHERS_KEPT = 16;

export class ArmJoints {
  private readonly index = new Map<string, number>();
  private readonly stamps: Float64Array;
  private readonly values: { position: Float64Array; velocity: Float64Array; effort: Float64Array };
  /** Names of other joints seen since the last clear: what the topic carries instead. */
  private readonly others = new Set<string>();

  constructor(
    /** The arm's joint names, in robot.yaml order. */
    private readonly names: readonly string[],
  ) {
    names.forEach((name, i) => this.index.set(name, i));
    this.stamps = new Float64Array(names.length).fill(-Infinity);
    this.values = { position: new Float64Array(names.length), velocity: new Float64Array(names.length), effort: new Float64Array(names.length) };
  }

  /**
   * True when `message` carries at least one of the arm's joints. The names of other joints are
   * remembered, to say what the topic carried when the arm's never came.
   */
  carries(message: JointStateMsg): boolean {
    let carries = false;
    for (const name of message.name) {
      if (this.index.has(name)) carries = true;
      else if (this.others.size < OTHERS_KEPT) this.others.add(name);
    }
    return carries;
  }

  /** Takes the arm's joints `message` carries, stamped `stamp`. */
  take(stamp: number, message: JointStateMsg): void {
    message.name.forEach((name, k) => {
      const i = this.index.get(name);
      if (i === undefined || stamp < this.stamps[i] || k >= message.position.length) return;
      this.stamps[i] = stamp;
      this.values.position[i] = message.position[k];
      this.values.velocity[i] = k < message.velocity.length ? message.velocity[k] : 0;
      this.values.effort[i] = k < message.effort.length ? message.effort[k] : 0;
    });
  }

  /** Forgets every value: after a reset the world's clock restarts, and stamps before it mean nothing. */
  clear(): void {
    this.stamps.fill(-Infinity);
    this.others.clear();
  }

  /** The stamp (s) of the merged state: its oldest joint's; -Infinity until every joint has been carried. */
  get stamp(): number {
    let stamp = Infinity;
    for (const s of this.stamps) stamp = Math.min(stamp, s);
    return stamp;
  }

  /** The merged state, once every joint has been carried; a copy the caller may keep. */
  state(): ArmState | undefined {
    const stamp = this.stamp;
    if (stamp === -Infinity) return undefined;
    return { stamp, position: this.values.position.slice(), velocity: this.values.velocity.slice(), effort: this.values.effort.slice() };
  }

  /** Why there is no state yet, for a time-out's message: the joints never carried, and what came instead. */
  missing(topic: string, robot: string): string {
    const missing = this.names.filter((_, i) => this.stamps[i] === -Infinity);
    if (missing.length === 0) return '';
    const instead = this.others.size ? ` (it carried ${[...this.others].join(', ')})` : '';
    return `${topic} carried no value of joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${robot}${instead}; check robot.yaml's joint names`;
  }
}
