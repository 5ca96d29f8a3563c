/**
 * The configuration is parsed one section at a time (core/config.ts
 * parseSections), and the CLI bundle gives a section the configuration
 * leaves out its built-in defaults instead of building its schema (issue
 * 13). Both must answer exactly as the whole schema does: the same result,
 * the same issues in the same order.
 */
import { describe, expect, it } from 'vitest'
import { ConfigSchema, parseSections, sectionDefaults } from '../../core/config.ts'

/** [raw configuration, valid] (an unknown key passes zod and is refused by loadConfig). */
const RAWS: Array<[Record<string, unknown>, boolean]> = [
  [{}, true],
  [{ dataDir: '/srv/tidewatch' }, true],
  [{ http: { port: 8081 }, htttp: { port: 8082 } }, true],
  [{ alerts: { smsChannel: 'http', http: { url: 'http://127.0.0.1:9/sms' } }, cluster: { nodeId: 'dc-edge-1', nats: { servers: ['nats://127.0.0.1:4222'] } } }, true],
  [{ mqtt: { port: 'x' } }, false],
  [{ mqtt: { plaintext: false } }, false],
  [{ log: { level: 'loud' }, dataDir: '' }, false],
  [{ influx: { targets: [{ name: 'primary', url: 'not a url' }, { name: 'dr', url: 'http://127.0.0.1:8086', mode: 'v2' }] } }, false],
  [{ alerts: { smsChannel: 'sms', quietHours: { start: '25:00', end: 'x' }, smpp: { sourceAddr: 'A-NAME-TOO-LONG' } } }, false],
  [{ cluster: { nats: { replicas: 9 }, postgres: { url: '' } } }, false],
  [{ cluster: { nats: { servers: ['localhost:4222'] }, postgres: { url: 'notaurl' } } }, false],
]

/** What zod made of it, in the shape both paths can be compared in. */
function outcome(r: { success: true; data: unknown } | { success: false; issues: Array<{ path: PropertyKey[]; message: string }> }): unknown {
  return r.success ? { data: r.data } : { issues: r.issues.map((i) => ({ path: i.path, message: i.message })) }
}

describe('the configuration, one section at a time', () => {
  it('gives each section left out what the whole schema gives it', () => {
    expect(sectionDefaults()).toEqual(ConfigSchema.parse({}))
  })

  it.each(RAWS.map(([raw, valid]) => [JSON.stringify(raw), raw, valid] as const))('%s: same result and issues as the whole schema, with and without built-in defaults', (_, raw, valid) => {
    const whole = ConfigSchema.safeParse(raw, { jitless: true })
    expect(whole.success).toBe(valid)
    const expected = outcome(whole.success ? whole : { success: false, issues: whole.error.issues })
    expect(outcome(parseSections(raw, undefined))).toEqual(expected)
    expect(outcome(parseSections(raw, sectionDefaults()))).toEqual(expected)
  })

  it('hands out copies of the built-in defaults, never the same object twice', () => {
    const defaults = sectionDefaults()
    const a = parseSections({}, defaults)
    const b = parseSections({}, defaults)
    expect(a.success && b.success && a.data.mqtt !== b.data.mqtt && a.data.mqtt !== defaults.mqtt).toBe(true)
  })
})
