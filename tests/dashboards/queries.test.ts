import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderDashboards, type RenderedDashboard } from '../../dashboards/build.ts'
import { startManagedInflux, type ManagedInflux } from '../../influx/managed.ts'
import { createQueryClient, type InfluxQueryClient } from '../../influx/query.ts'
import { applyRetention } from '../../influx/retention.ts'
import { STATIONS, buildFixture, writeLines } from './fixtures.ts'
import { expandQuery, parseRelative, type VariableValue } from './grafana-macros.ts'

/**
 * Runs every panel target, annotation and variable query of every dashboard
 * against a real influxd holding simulated data, with Grafana's macros
 * expanded as Grafana would. Grafana itself cannot be installed here.
 */

const DB = 'tidewatch'
// A full-width panel on a 1920 px screen; Grafana uses the panel width as maxDataPoints.
const SCREEN_PX = 1920

interface Target {
  refId?: string
  query: string
  rawQuery?: boolean
  resultFormat?: string
}
interface PanelJson {
  title: string
  interval?: string
  gridPos: { w: number }
  targets?: Target[]
}
interface VariableJson {
  name: string
  query: string
  multi: boolean
  includeAll: boolean
}

let influx: ManagedInflux
let client: InfluxQueryClient
let dir: string
const now = Date.now()
const dashboards = renderDashboards()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidewatch-dash-'))
  influx = await startManagedInflux({ dir })
  client = createQueryClient({ url: influx.url, database: DB })
  await applyRetention(client, { database: DB, rawRetention: '400d' })
  const fixture = buildFixture(now)
  await writeLines(influx.url, DB, '', fixture.raw)
  await writeLines(influx.url, DB, 'long', fixture.long)
})

afterAll(async () => {
  await influx?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

function variablesOf(d: RenderedDashboard): VariableJson[] {
  return ((d.model.templating as { list?: VariableJson[] }).list ?? []).filter((v) => v.query)
}

async function variableValues(v: VariableJson): Promise<string[]> {
  const [series = []] = await client.query(v.query)
  return series.flatMap((s) => s.values.map((row) => String(row[s.columns.indexOf('value')])))
}

/** Every selection a user can make that changes the query text: one value, and all (multi). */
async function selections(d: RenderedDashboard): Promise<Array<Record<string, VariableValue>>> {
  const vars = variablesOf(d)
  if (vars.length === 0) return [{}]
  const single: Record<string, VariableValue> = {}
  const all: Record<string, VariableValue> = {}
  for (const v of vars) {
    const values = await variableValues(v)
    single[v.name] = { value: values.includes('CM-003') ? 'CM-003' : values[0]!, multi: v.multi, includeAll: v.includeAll }
    all[v.name] = v.multi ? { value: values, multi: true, includeAll: v.includeAll } : single[v.name]!
  }
  return vars.some((v) => v.multi) ? [single, all] : [single]
}

function rangeOf(d: RenderedDashboard) {
  const time = d.model.time as { from: string; to: string }
  return { from: parseRelative(time.from, now), to: parseRelative(time.to, now) }
}

async function runAndCount(query: string): Promise<number> {
  const results = await client.query(query)
  expect(results).toHaveLength(1)
  return results[0]!.length
}

describe.each(dashboards.map((d) => [d.uid, d] as const))('dashboard %s against InfluxDB 1.x', (_uid, d) => {
  it('variable queries return the simulated stations', async () => {
    for (const v of variablesOf(d)) {
      const values = await variableValues(v)
      expect(values).toEqual(expect.arrayContaining([...STATIONS]))
    }
  })

  it('every panel target returns at least one series for each variable selection', async () => {
    const panels = d.model.panels as PanelJson[]
    let ran = 0
    for (const vars of await selections(d)) {
      for (const panel of panels) {
        for (const t of panel.targets ?? []) {
          expect(t.rawQuery, `${panel.title}/${t.refId}`).toBe(true)
          const q = expandQuery(t.query, {
            range: rangeOf(d),
            vars,
            resolution: Math.round((panel.gridPos.w / 24) * SCREEN_PX),
            minInterval: panel.interval,
          })
          expect(q, 'no macro left unexpanded').not.toMatch(/\$(?!tag_)\w|\[\[/)
          const series = await runAndCount(q).catch((err: Error & { details?: unknown }) => {
            throw new Error(`${d.uid} / ${panel.title} / ${t.refId}: ${err.message} ${JSON.stringify(err.details)}\n${q}`)
          })
          expect(series, `${d.uid} / ${panel.title} / ${t.refId}: no series\n${q}`).toBeGreaterThan(0)
          ran++
        }
      }
    }
    expect(ran).toBeGreaterThan(0)
  })

  it('annotation queries return events', async () => {
    const annotations = (d.model.annotations as { list?: Array<{ target?: Target }> }).list ?? []
    for (const vars of await selections(d)) {
      for (const a of annotations) {
        if (!a.target?.query) continue
        const q = expandQuery(a.target.query, { range: rangeOf(d), vars, resolution: SCREEN_PX })
        // CM-003's salinity alert lies inside every default range that has annotations.
        expect(await runAndCount(q), q).toBeGreaterThan(0)
      }
    }
  })
})
