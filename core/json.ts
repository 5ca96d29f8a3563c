/** A parsed JSON object: not null and not an array. What config files and station payloads are checked against before their keys are read. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
