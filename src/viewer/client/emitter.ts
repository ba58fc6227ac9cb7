/**
 * Typed events, as roslib's `on(name, listener)`: a class declares its event map (name → the
 * value its listeners get) and emits; listeners subscribe by name and get a function that
 * unsubscribes. No DOM, so the classes built on it run in Node tests too.
 */

/** Listener arguments of an event: none for a `void` event, else its value. */
type Args<T> = [T] extends [void] ? [] : [value: T];

export class Emitter<Events> {
  private readonly listeners: { [K in keyof Events]?: Set<(...args: Args<Events[K]>) => void> } = {};

  /** Calls `listener` on each `name` event until the returned function is called. */
  on<K extends keyof Events>(name: K, listener: (...args: Args<Events[K]>) => void): () => void {
    const set = (this.listeners[name] ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Tells every listener of `name`, in the order they subscribed. */
  protected emit<K extends keyof Events>(name: K, ...args: Args<Events[K]>): void {
    for (const listener of this.listeners[name] ?? []) listener(...args);
  }
}
