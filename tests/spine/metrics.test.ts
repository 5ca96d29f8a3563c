/**
 * /metrics scraped from a whole running platform (influxd, the embedded Aedes
 * broker, ingest, alerter, API): every family each component reports is
 * valid Prometheus text (exposition format 0.0.4), and the types are right —
 * a quantile belongs to a summary with _sum and _count, never to a gauge.
 */
import { describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { eventually, getJson, platformPerFile } from '../helpers/platform.ts'

const env = platformPerFile()

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const TYPES = new Set(['counter', 'gauge', 'summary', 'histogram', 'untyped'])

interface ScrapedFamily {
  type: string
  help?: string
  /** Sample lines: the name as written (with _sum/_count), labels, value. */
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>
}

/** A strict reader of the text format: a sample must follow the TYPE of its family. */
function parseExposition(text: string): { families: Map<string, ScrapedFamily>; problems: string[] } {
  const families = new Map<string, ScrapedFamily>()
  const problems: string[] = []
  const help = new Map<string, string>()
  let current: { name: string; family: ScrapedFamily } | undefined
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string]
      if (!NAME.test(name)) problems.push(`bad family name: ${line}`)
      if (kind === 'HELP') help.set(name, rest)
      else {
        if (!TYPES.has(rest)) problems.push(`bad TYPE: ${line}`)
        if (families.has(name)) problems.push(`second TYPE line for ${name}`)
        current = { name, family: { type: rest, help: help.get(name), samples: [] } }
        families.set(name, current.family)
      }
      continue
    }
    if (line.startsWith('#')) {
      problems.push(`comment in the scrape (a source failed or a family was left out?): ${line}`)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!sample) {
      problems.push(`unparsable sample: ${line}`)
      continue
    }
    const [, name, labelText = '', valueText] = sample as unknown as [string, string, string | undefined, string]
    const labels: Record<string, string> = {}
    for (const m of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!
    const value = Number(valueText.replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'))
    if (Number.isNaN(value) && valueText !== 'NaN') problems.push(`bad value: ${line}`)
    const base = current?.family.type === 'summary' ? name.replace(/_(sum|count)$/, '') : name
    if (!current || base !== current.name) {
      problems.push(`sample outside its family's TYPE: ${line}`)
      continue
    }
    current.family.samples.push({ name, labels, value })
  }
  return { families, problems }
}

describe('GET /metrics on a running platform', () => {
  it('every family has a valid TYPE, counters end in _total, and only summaries carry quantiles, with _sum and _count', async () => {
    // One stored reading, so the writers have write times and the alerter has evaluated a value.
    const creds = await env.tp.platform.registry.add({ id: 'cm-metrics-01', name: 'cm-metrics-01', lat: 9, lon: 105 })
    const station = await mqtt.connectAsync(env.tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
    await station.publishAsync('stations/cm-metrics-01/readings', JSON.stringify({ ts: Date.now(), seq: 1, values: { salinity: 3.1 } }), { qos: 1 })
    await station.endAsync()
    expect(await eventually(async () => (await env.influx.values(`"station" = 'cm-metrics-01'`)) === 1)).toBe(true)
    expect(await env.tp.platform.ingest!.drained()).toBe(true)

    const res = await getJson(`${env.tp.apiUrl}/metrics`)
    expect(res.status).toBe(200)
    const { families, problems } = parseExposition(res.body as string)
    expect(problems).toEqual([])

    for (const [name, f] of families) {
      expect(f.help, `${name} has HELP`).toBeTruthy()
      if (f.type === 'counter') expect(name, 'a counter ends in _total').toMatch(/_total$/)
      if (f.type !== 'summary') {
        const withQuantile = f.samples.filter((s) => 'quantile' in s.labels)
        expect(withQuantile, `# TYPE ${name} ${f.type} carries a quantile label`).toEqual([])
        expect(f.samples.every((s) => s.name === name)).toBe(true)
        continue
      }
      // A summary: per label set, quantile lines plus exactly one _sum and one _count.
      const sets = new Map<string, Set<string>>()
      for (const s of f.samples) {
        const { quantile, ...rest } = s.labels
        const key = JSON.stringify(rest)
        const seen = sets.get(key) ?? new Set<string>()
        sets.set(key, seen)
        if (s.name === name) {
          expect(Number(quantile), `${name} quantile label`).toBeGreaterThanOrEqual(0)
          expect(Number(quantile)).toBeLessThanOrEqual(1)
          seen.add('quantile')
        } else seen.add(s.name.slice(name.length))
      }
      for (const [key, seen] of sets) expect([...seen].sort(), `${name}${key}`).toEqual(['_count', '_sum', 'quantile'])
    }

    // Each component is in the scrape: ingest, spool lanes, writers, quarantine, feedback, broker, event loop, alerter, the API itself.
    expect(families.get('tidewatch_ingest_readings_accepted_total')?.samples[0]?.value).toBeGreaterThanOrEqual(1)
    expect(families.get('tidewatch_spool_fsyncs_total')?.type).toBe('counter')
    expect(families.get('tidewatch_quarantine_evicted_total')?.type).toBe('counter')
    expect(families.get('tidewatch_feedback_dropped_total')?.type).toBe('counter')
    expect(families.get('tidewatch_mqtt_connects_accepted_total')?.samples[0]?.value).toBeGreaterThanOrEqual(1)
    expect(families.get('tidewatch_alerts_values_evaluated_total')?.type).toBe('counter')
    expect(families.get('tidewatch_event_loop_delay_seconds')?.type).toBe('summary')
    const writes = families.get('tidewatch_write_duration_seconds')
    expect(writes?.type).toBe('summary')
    expect(writes?.samples.find((s) => s.name === 'tidewatch_write_duration_seconds_count' && s.labels.target === 'primary')?.value).toBeGreaterThanOrEqual(1)
    expect(families.get('tidewatch_http_responses_total')?.type).toBe('counter')
  })

  it("counts the API's own answers by status", async () => {
    await getJson(`${env.tp.apiUrl}/api/v1/stations/nope-never`)
    const { families } = parseExposition((await getJson(`${env.tp.apiUrl}/metrics`)).body as string)
    const statuses = families.get('tidewatch_http_responses_total')!.samples.map((s) => s.labels.status)
    expect(statuses).toContain('200')
    expect(statuses.some((s) => s === '404' || s === '401')).toBe(true)
  })
})
