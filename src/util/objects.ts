/**
 * A copy of `o` without the fields whose value is `undefined`, so that spreading it
 * over defaults (`{ ...DEFAULTS, ...stripUndefined(options) }`) keeps a default where
 * a caller passed `{ key: undefined }` (which a plain spread would let override it).
 * `null`, `0`, `''` and `false` are values and stay.
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
