import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { DATASOURCE_UID, UNITS } from '../../dashboards/common.ts'
import { zoneRule } from '../../levels/zones.ts'
import { DEFAULT_OUT_DIR, renderDashboards } from '../../dashboards/build.ts'
import { GAZETTEER_PATH } from '../../dashboards/panels/geomap.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'

const GRAFANA_DIR = fileURLToPath(new URL('../../grafana/', import.meta.url))
const dashboards = renderDashboards()

interface Threshold {
  value: number | null
  color: string
}
interface Panel {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type: string; uid: string }
  gridPos: { x: number; y: number; w: number; h: number }
  fieldConfig: {
    defaults: { unit?: string; thresholds?: { steps: Threshold[] } }
    overrides: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }>
  }
  targets: Array<{ refId: string; query: string; datasource: { type: string; uid: string } }>
}

const panelsOf = (model: Record<string, unknown>) => model.panels as Panel[]

describe('generated dashboards', () => {
  it('have stable uids (changing one breaks bookmarks and links)', () => {
    expect(dashboards.map((d) => d.uid)).toEqual([
      'tidewatch-overview',
      'tidewatch-station',
      'tidewatch-salinity',
      'tidewatch-devices',
      'tidewatch-data-quality',
      'tidewatch-alerts',
    ])
  })

  it('are checked in and up to date (run `npx tsx dashboards/build.ts`)', () => {
    for (const d of dashboards) {
      expect(readFileSync(join(DEFAULT_OUT_DIR, d.file), 'utf8'), `${d.file} is stale`).toBe(d.json)
    }
    const checkedIn = readdirSync(DEFAULT_OUT_DIR).filter((f) => f.endsWith('.json')).sort()
    expect(checkedIn).toEqual(dashboards.map((d) => d.file).sort())
  })

  it('render the same JSON on every build', () => {
    expect(renderDashboards().map((d) => d.json)).toEqual(dashboards.map((d) => d.json))
  })

  describe.each(dashboards.map((d) => [d.uid, d.model] as const))('%s', (_uid, model) => {
    const panels = panelsOf(model)

    it('has a Vietnamese title, an English description and the tidewatch tag', () => {
      expect(model.title).toMatch(/[^\x00-\x7f]/)
      expect(String(model.description)).toMatch(/^[\x00-\x7f‰]+$/)
      expect(model.tags).toContain('tidewatch')
    })

    it('gives every panel a unique id, a title, a description and a unit', () => {
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
      for (const p of panels) {
        expect(p.title, `panel ${p.id}`).toBeTruthy()
        expect(p.description, p.title).toBeTruthy()
        expect(p.fieldConfig.defaults.unit, `${p.title} has no unit`).toBeTruthy()
      }
    })

    it('queries only the tidewatch InfluxDB data source, with raw InfluxQL and unique refIds', () => {
      for (const p of panels) {
        expect(p.datasource).toEqual({ type: 'influxdb', uid: DATASOURCE_UID })
        expect(p.targets.length, p.title).toBeGreaterThan(0)
        expect(new Set(p.targets.map((t) => t.refId)).size, p.title).toBe(p.targets.length)
        for (const t of p.targets) expect(t.datasource).toEqual({ type: 'influxdb', uid: DATASOURCE_UID })
      }
    })

    it('colours salinity by the rice zone levels (levels/zones.ts), says so, and keeps no other copy of them', () => {
      const rice = zoneRule('rice', 'salinity', 1)!.levels
      const warning = rice.find((l) => l.severity === 'warning')!.threshold
      const danger = rice.find((l) => l.severity === 'danger')!.threshold
      for (const p of panels) {
        const sets: Threshold[][] = []
        if (p.fieldConfig.defaults.unit === UNITS.salinity) sets.push(p.fieldConfig.defaults.thresholds?.steps ?? [])
        for (const o of p.fieldConfig.overrides) {
          if (o.properties.some((x) => x.id === 'unit' && x.value === UNITS.salinity)) {
            const t = o.properties.find((x) => x.id === 'thresholds')?.value as { steps: Threshold[] } | undefined
            sets.push(t?.steps ?? [])
          }
        }
        for (const steps of sets) {
          const values = steps.map((s) => s.value).filter((v) => v !== null)
          // The station dashboard has no bands: its levels come from the `levels` measurement.
          if (values.length === 0) continue
          expect(values, p.title).toEqual([warning, danger])
          expect(steps.find((s) => s.value === danger)?.color, p.title).toBe('red')
          expect(p.description, p.title).toContain('rice zone')
        }
      }
    })

    it('draws each station’s own levels as dashed series from the levels measurement', () => {
      if (model.uid !== 'tidewatch-station') return
      const history = panels.filter((p) => p.type === 'timeseries' && p.targets.some((t) => t.query.includes('FROM "station_reading"')))
      expect(history.length).toBe(4)
      for (const p of history) {
        const l = p.targets.find((t) => t.refId === 'L')
        expect(l?.query, p.title).toContain('FROM "levels"')
        const dashed = p.fieldConfig.overrides.find((o) => o.matcher.options === 'L')
        expect(dashed?.properties.find((x) => x.id === 'custom.lineStyle')?.value, p.title).toEqual({ fill: 'dash', dash: [10, 10] })
        expect(dashed?.properties.find((x) => x.id === 'custom.hideFrom')?.value, p.title).toMatchObject({ legend: true })
      }
    })

    it('places panels on the 24-column grid without overlaps', () => {
      for (const p of panels) {
        expect(p.gridPos.x, p.title).toBeGreaterThanOrEqual(0)
        expect(p.gridPos.w, p.title).toBeGreaterThan(0)
        expect(p.gridPos.h, p.title).toBeGreaterThan(0)
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      }
      for (const [i, a] of panels.entries()) {
        for (const b of panels.slice(i + 1)) {
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w &&
            b.gridPos.x < a.gridPos.x + a.gridPos.w &&
            a.gridPos.y < b.gridPos.y + b.gridPos.h &&
            b.gridPos.y < a.gridPos.y + a.gridPos.h
          expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false)
        }
      }
    })
  })

  it('read the long retention policy for the season-long salinity panels', () => {
    const salinity = dashboards.find((d) => d.uid === 'tidewatch-salinity')!
    for (const p of panelsOf(salinity.model)) {
      for (const t of p.targets) expect(t.query, p.title).toContain('"long"."station_reading_1h"')
    }
  })
})

// Grafana's documented provisioning schema, limited to the fields tidewatch relies on.
const DatasourceFile = z.object({
  apiVersion: z.literal(1),
  datasources: z
    .array(
      z.object({
        name: z.string().min(1),
        type: z.literal('influxdb'),
        access: z.enum(['proxy', 'direct']),
        url: z.url(),
        uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
        isDefault: z.boolean().optional(),
        editable: z.boolean().optional(),
        jsonData: z.object({ version: z.literal('InfluxQL'), dbName: z.string().min(1), httpMode: z.enum(['GET', 'POST']).optional() }).loose(),
      }).strict(),
    )
    .length(1),
})

const DashboardProviderFile = z.object({
  apiVersion: z.literal(1),
  providers: z
    .array(
      z.object({
        name: z.string().min(1),
        orgId: z.number().int().positive(),
        type: z.literal('file'),
        folder: z.string(),
        folderUid: z.string().optional(),
        disableDeletion: z.boolean(),
        allowUiUpdates: z.boolean(),
        updateIntervalSeconds: z.number().int().positive(),
        options: z.object({ path: z.string().startsWith('/'), foldersFromFilesStructure: z.boolean().optional() }).strict(),
      }).strict(),
    )
    .length(1),
})

describe('provisioning', () => {
  const read = (rel: string) => parseYaml(readFileSync(join(GRAFANA_DIR, rel), 'utf8')) as unknown

  it('datasource file matches Grafana’s schema and the uid the dashboards use', () => {
    const file = DatasourceFile.parse(read('provisioning/datasources/tidewatch.yaml'))
    expect(file.datasources[0]!.uid).toBe(DATASOURCE_UID)
    expect(file.datasources[0]!.jsonData.dbName).toBe('tidewatch')
  })

  it('dashboard provider is a file provider with an absolute path', () => {
    const file = DashboardProviderFile.parse(read('provisioning/dashboards/tidewatch.yaml'))
    expect(file.providers[0]!.options.path).toMatch(/dashboards/)
  })

  it('the checked-in gazetteer is in worldmap format and places every demo station', () => {
    expect(GAZETTEER_PATH).toBe('public/gazetteer/tidewatch-stations.json')
    const entries = z
      .array(z.object({ key: z.string(), latitude: z.number(), longitude: z.number() }).strict())
      .parse(JSON.parse(readFileSync(join(GRAFANA_DIR, 'gazetteer/tidewatch-stations.json'), 'utf8')))
    expect(entries.map((e) => e.key).sort()).toEqual(DEMO_STATIONS.map((s) => s.id).sort())
    // Cà Mau province lies roughly within 8.5–9.6 N, 104.7–105.5 E.
    for (const e of entries) {
      expect(e.latitude).toBeGreaterThan(8.4)
      expect(e.latitude).toBeLessThan(9.7)
      expect(e.longitude).toBeGreaterThan(104.6)
      expect(e.longitude).toBeLessThan(105.6)
    }
  })
})
