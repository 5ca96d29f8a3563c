/**
 * Bounds on untrusted JSON, checked without recursion.
 *
 * V8's JSON.parse is iterative and takes any depth, but every later walk of
 * the parsed value is recursive: JSON.stringify of an array nested 6,000
 * deep (12 kB) throws "Maximum call stack size exceeded", and so would any
 * schema or formatter that descends into it (issue 12). So a payload's depth
 * is measured on its bytes, in one linear pass, before it is parsed; and the
 * quarantine's excerpt of a parsed value is built by a loop that stops at a
 * size, never by JSON.stringify of the whole value.
 */

/**
 * The deepest payload the protocol defines is a batch: object → `readings`
 * array → reading object → `values` object, 4 levels (docs/PROTOCOL.md,
 * "A batch"). 32 is eight times that, room for additions to the protocol,
 * and far below where V8's recursive walks overflow the stack: JSON.stringify
 * throws past about 4,190 levels on Node 20's default stack (measured here
 * from an empty stack; fewer when called deep in one).
 */
export const MAX_JSON_DEPTH = 32

const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \
const OPEN_BRACKET = 0x5b // [
const CLOSE_BRACKET = 0x5d // ]
const OPEN_BRACE = 0x7b // {
const CLOSE_BRACE = 0x7d // }

/**
 * The byte offset of the first `[` or `{` that nests deeper than `maxDepth`,
 * or -1 when none does. Brackets inside strings do not count; `\` escapes the
 * next byte, so `"\""` is one string. Works on UTF-8 bytes directly: every
 * byte of a multi-byte sequence is >= 0x80, so none is mistaken for a quote,
 * a backslash or a bracket, and a BOM is just three bytes that are skipped.
 *
 * It does not validate JSON (JSON.parse does that next); it only has to
 * agree with JSON.parse on every input JSON.parse accepts. A stray closing
 * bracket never takes the depth below zero, so `]]][[[` cannot hide depth.
 */
export function jsonDepthExceeded(bytes: Uint8Array, maxDepth: number): number {
  return scanDepth(bytes, maxDepth).exceededAt
}

/** The deepest nesting of `[`/`{` in the bytes, by the same rules (for tests and diagnostics). */
export function jsonDepth(bytes: Uint8Array): number {
  return scanDepth(bytes, Infinity).max
}

/**
 * The one pass both answers share: the deepest nesting seen, stopping at the
 * first bracket that nests deeper than `limit` (its offset, or -1 when none does).
 */
function scanDepth(bytes: Uint8Array, limit: number): { max: number; exceededAt: number } {
  let depth = 0
  let max = 0
  let inString = false
  const n = bytes.length
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!
    if (inString) {
      if (b === BACKSLASH) i++
      else if (b === QUOTE) inString = false
    } else if (b === QUOTE) {
      inString = true
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > max) {
        max = depth
        if (depth > limit) return { max, exceededAt: i }
      }
    } else if ((b === CLOSE_BRACKET || b === CLOSE_BRACE) && depth > 0) {
      depth--
    }
  }
  return { max, exceededAt: -1 }
}

interface ArrayFrame {
  array: readonly unknown[]
  next: number
}
interface ObjectFrame {
  object: Record<string, unknown>
  keys: string[]
  next: number
  wrote: boolean
}

/**
 * JSON text of `value`, cut at `maxChars` (then ending in "…"). The same text
 * as JSON.stringify for what JSON.parse returns (and for plain objects built
 * from it), but written by a loop with its own stack, and it stops as soon as
 * `maxChars` are written: the cost is bounded by the output, not by the
 * value's depth or size. Strings and keys longer than the limit are cut
 * before they are escaped. No closures: it runs per quarantined reading.
 */
export function boundedJson(value: unknown, maxChars: number): string {
  const w: Writer = { parts: [], length: 0, stack: [], max: maxChars }
  writeValue(w, value, true)
  while (w.stack.length > 0 && w.length <= maxChars) {
    const top = w.stack[w.stack.length - 1]!
    if ('array' in top) {
      if (top.next < top.array.length) {
        if (top.next > 0) emit(w, ',')
        writeValue(w, top.array[top.next++], true)
      } else {
        emit(w, ']')
        w.stack.pop()
      }
      continue
    }
    let wroteOne = false
    while (top.next < top.keys.length) {
      const key = top.keys[top.next++]!
      const v = top.object[key]
      if (!isJsonValue(v)) continue // JSON.stringify leaves such keys out
      emit(w, top.wrote ? ',' : '')
      emit(w, quote(key, maxChars))
      emit(w, ':')
      top.wrote = true
      writeValue(w, v, false)
      wroteOne = true
      break
    }
    if (!wroteOne) {
      emit(w, '}')
      w.stack.pop()
    }
  }
  const text = w.parts.join('')
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

interface Writer {
  parts: string[]
  length: number
  stack: Array<ArrayFrame | ObjectFrame>
  max: number
}

function emit(w: Writer, s: string): void {
  if (s.length === 0) return
  w.parts.push(s)
  w.length += s.length
}

function isJsonValue(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'
}

function quote(s: string, maxChars: number): string {
  return JSON.stringify(s.length > maxChars ? s.slice(0, maxChars) : s)
}

/** Writes a scalar, or opens a container frame; `inArray` turns an unrepresentable value into null, as JSON.stringify does. */
function writeValue(w: Writer, v: unknown, inArray: boolean): void {
  if (v === null) return emit(w, 'null')
  switch (typeof v) {
    case 'string':
      return emit(w, quote(v, w.max))
    case 'number':
      return emit(w, Number.isFinite(v) ? String(v) : 'null')
    case 'boolean':
      return emit(w, v ? 'true' : 'false')
    case 'bigint':
      return emit(w, String(v))
    case 'object':
      if (Array.isArray(v)) {
        emit(w, '[')
        w.stack.push({ array: v, next: 0 })
      } else {
        emit(w, '{')
        w.stack.push({ object: v as Record<string, unknown>, keys: Object.keys(v), next: 0, wrote: false })
      }
      return
    default:
      if (inArray) emit(w, 'null')
  }
}
