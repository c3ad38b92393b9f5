/** Largest absolute difference between `a` and the reference `b`, relative to the largest |b| (floor 1e-6). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let ref = 1e-6;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return err / ref;
}

/** ‖a − b‖ / ‖b‖ (floor 1e-12): the error of a whole tensor, not dominated by one element. */
export function relativeL2Error(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let ref = 1e-24;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    ref += b[i] ** 2;
  }
  return Math.sqrt(diff / ref);
}
