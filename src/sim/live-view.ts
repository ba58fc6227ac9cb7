/**
 * Typed-array views of mujoco-js arrays for the per-tick path. A mujoco-js getter (`data.qpos`,
 * `model.nv`, `buffer.GetView()`) costs 1-3 µs, and a control tick reads dozens; the arrays
 * themselves never move (mjData and mjModel keep their buffers for life). Only growing the wasm
 * memory invalidates a view: it detaches the old buffer, which leaves every view on it with
 * length 0. So a view is kept and fetched again only when it has gone empty.
 */

/** Returns a function that gives the view `get()` returns, calling `get` only when the last one went stale. */
export function liveView<T extends ArrayLike<number>>(get: () => T): () => T {
  let view = get();
  return () => {
    // An array that is empty by nature (no sensors, say) is fetched every time: still correct.
    if (view.length === 0) view = get();
    return view;
  };
}
