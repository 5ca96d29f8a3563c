/**
 * Logs on a terminal: one readable line per pino record, printed above the
 * live status line of `tidewatch up` (cleared, printed, redrawn), never into it.
 * stderr's write is captured: a real terminal cannot run here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { prettyLine, statusLine } from '../../core/log.ts'

const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')

afterEach(() => {
  vi.restoreAllMocks()
  statusLine.current = ''
})

describe('terminal logs', () => {
  it('prints a pino record as time, level, component, message, fields; an error by its message only', () => {
    const line = plain(prettyLine(JSON.stringify({ level: 40, time: '2026-12-03T03:04:05.000Z', component: 'broker', station: 'cm-1', note: 'two words', err: { message: 'boom\nagain', stack: 'Error: boom\n    at x' }, msg: 'refused' })))
    expect(line).toMatch(/^\d\d:\d\d:\d\d {2}WARN {3}broker {2}refused {2}err="boom\\nagain" {2}station=cm-1 {2}note="two words"$/)
    expect(line).not.toContain('\n')
  })

  it('prints log lines above the status line and redraws it', () => {
    let out = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true))
    statusLine.show('readings/s 12.0')
    statusLine.print('10:00:00  INFO   ingest  started')
    statusLine.clear()
    expect(out).toBe('\r\x1b[2Kreadings/s 12.0' + '\r\x1b[2K10:00:00  INFO   ingest  started\nreadings/s 12.0' + '\r\x1b[2K')
  })
})
