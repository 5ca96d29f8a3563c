import { invalid } from './errors.ts'

/**
 * Tokens of the OData expression subset SensorThings uses in $filter and
 * $orderby (OGC 18-088 §9.3.3.5, OData 4.0 ABNF §5.1.1): literals, paths,
 * function calls, operators spelled as words (eq, and, add…).
 */
export type Token =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'dt'; v: string; at: number }
  | { t: 'date'; v: string; at: number }
  | { t: 'time'; v: string; at: number }
  | { t: 'geo'; v: string; at: number }
  | { t: 'duration'; v: string; at: number }
  | { t: 'ident'; v: string; at: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '/' | '-'; at: number }
  | { t: 'end'; at: number }

// RFC 3339 as OData writes it, unquoted: 2025-03-01T00:00:00Z, …+07:00.
// A "+" left raw in a URL arrives as a space, so "…T00:00:00 07:00" is read as "+07:00".
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}| \d{2}:\d{2})/
const DATE = /^\d{4}-\d{2}-\d{2}(?![\dT])/
const TIME = /^\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?/
const NUMBER = /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/
const IDENT = /^[A-Za-z_@$][A-Za-z0-9_.@$]*/

export function tokenize(src: string, option: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++
      continue
    }
    const rest = src.slice(i)
    if (c === "'") {
      // OData escapes a quote inside a string by doubling it.
      let j = i + 1
      let v = ''
      for (;;) {
        if (j >= src.length) throw invalid(option, `unterminated string starting at position ${i}`, { position: i })
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            v += "'"
            j += 2
            continue
          }
          break
        }
        v += src[j]
        j++
      }
      out.push({ t: 'str', v, at: i })
      i = j + 1
      continue
    }
    if ('(),/'.includes(c)) {
      out.push({ t: 'punct', v: c as '(' | ')' | ',' | '/', at: i })
      i++
      continue
    }
    if (c === '-') {
      out.push({ t: 'punct', v: '-', at: i })
      i++
      continue
    }
    let m = DATETIME.exec(rest)
    if (m) {
      out.push({ t: 'dt', v: m[0].replace(/ (\d\d:\d\d)$/, '+$1'), at: i })
      i += m[0].length
      continue
    }
    if ((m = DATE.exec(rest))) {
      out.push({ t: 'date', v: m[0], at: i })
      i += m[0].length
      continue
    }
    if ((m = TIME.exec(rest))) {
      out.push({ t: 'time', v: m[0], at: i })
      i += m[0].length
      continue
    }
    if ((m = NUMBER.exec(rest))) {
      out.push({ t: 'num', v: Number(m[0]), at: i })
      i += m[0].length
      continue
    }
    if ((m = IDENT.exec(rest))) {
      const word = m[0]
      // Typed literals: geography'POINT(…)', geometry'…', duration'P1D'.
      if (src[i + word.length] === "'" && /^(geography|geometry|duration)$/i.test(word)) {
        const close = src.indexOf("'", i + word.length + 1)
        if (close < 0) throw invalid(option, `unterminated ${word} literal at position ${i}`, { position: i })
        const body = src.slice(i + word.length + 1, close)
        out.push(word.toLowerCase() === 'duration' ? { t: 'duration', v: body, at: i } : { t: 'geo', v: body, at: i })
        i = close + 1
        continue
      }
      out.push({ t: 'ident', v: word, at: i })
      i += word.length
      continue
    }
    throw invalid(option, `unexpected character ${JSON.stringify(c)} at position ${i}`, { position: i })
  }
  out.push({ t: 'end', at: src.length })
  return out
}
