/*
 * AbortSignal.any without its leak on Node 20: there each call leaves a WeakRef in every source
 * signal's set of followers and nothing ever takes it out, so a long-lived signal (the
 * dispatcher's shutdown, followed by every action's deadline) grows by an entry per call.
 * Here a source has one listener and a set of weak followers, and a follower leaves that set
 * when it aborts or is collected.
 */

type Fan = Set<WeakRef<AbortSignal>>;

/** Per source signal, the signals that follow it (held weakly: a follower nobody holds can go). */
const fans = new WeakMap<AbortSignal, Fan>();
/** Per signal made here, its controller, kept as long as the signal is. */
const controllers = new WeakMap<AbortSignal, AbortController>();
/** Per signal made here, the plain signals it follows (a follower of it follows them directly). */
const sourcesOf = new WeakMap<AbortSignal, readonly AbortSignal[]>();
const collected = new FinalizationRegistry<{ fan: Fan; ref: WeakRef<AbortSignal> }>(({ fan, ref }) => fan.delete(ref));

function fanOf(source: AbortSignal): Fan {
  const known = fans.get(source);
  if (known) return known;
  const fan: Fan = new Set();
  fans.set(source, fan);
  source.addEventListener(
    'abort',
    () => {
      // A copy: each follower leaves the set as it aborts.
      for (const ref of [...fan]) {
        const s = ref.deref();
        if (s) controllers.get(s)!.abort(source.reason);
      }
    },
    { once: true },
  );
  return fan;
}

/** A signal that aborts, with the same reason, as soon as any of `signals` does (as AbortSignal.any). */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const ctl = new AbortController();
  const plain = [...new Set(signals.flatMap((s) => sourcesOf.get(s) ?? [s]))];
  const done = plain.find((s) => s.aborted);
  if (done) {
    ctl.abort(done.reason);
    return ctl.signal;
  }
  const signal = ctl.signal;
  const ref = new WeakRef(signal);
  const joined = plain.map(fanOf);
  controllers.set(signal, ctl);
  sourcesOf.set(signal, plain);
  for (const fan of joined) {
    fan.add(ref);
    collected.register(signal, { fan, ref }, ref);
  }
  signal.addEventListener(
    'abort',
    () => {
      for (const fan of joined) fan.delete(ref);
      collected.unregister(ref);
    },
    { once: true },
  );
  return signal;
}

/** How many signals made by anySignal follow `source` now: what this module holds for it. */
export function followers(source: AbortSignal): number {
  return fans.get(source)?.size ?? 0;
}
