import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_OUT_DIR, renderDashboards, writeDashboards } from '../../dashboards/build.ts'
import { StationListSchema, renderGazetteer, type StationLocation } from '../../dashboards/gazetteer.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'
import { pushDashboards } from '../../dashboards/push.ts'
import { parse, type Io } from '../args.ts'

const USAGE = `Usage:
  tidewatch dashboards build [--out DIR]
      Writes the Grafana dashboards as JSON (default: grafana/dashboards/).
  tidewatch dashboards push --url URL --token TOKEN [--folder NAME]
      Uploads them through Grafana's HTTP API (service-account token), creating
      the folder (default "Tidewatch") if missing. Safe to repeat.
  tidewatch dashboards gazetteer (--stations FILE.json | --demo) [--out FILE]
      Writes the station gazetteer the overview map uses from a JSON list of
      {id, lat, lon}, or from the demo stations
      (default: grafana/gazetteer/tidewatch-stations.json).
See docs/GRAFANA.md.`

const DEFAULT_GAZETTEER = fileURLToPath(new URL('../../grafana/gazetteer/tidewatch-stations.json', import.meta.url))

async function build(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { out: { type: 'string' } }, false)
  const files = await writeDashboards(values.out ?? DEFAULT_OUT_DIR)
  for (const f of files) io.stdout(f)
  return 0
}

async function push(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, folder: { type: 'string' } }, false)
  if (!values.url || !values.token) {
    io.stderr('dashboards push needs --url and --token\n' + USAGE)
    return 1
  }
  const result = await pushDashboards({ url: values.url, token: values.token, folder: values.folder ?? 'Tidewatch', dashboards: renderDashboards() })
  io.stdout(`folder ${result.folderUid}${result.folderCreated ? ' (created)' : ''}`)
  for (const d of result.dashboards) io.stdout(`${d.uid}${d.version !== undefined ? ` v${d.version}` : ''}${d.url ? ` ${d.url}` : ''}`)
  return 0
}

async function gazetteer(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { stations: { type: 'string' }, demo: { type: 'boolean' }, out: { type: 'string' } }, false)
  let stations: StationLocation[]
  if (values.demo) {
    stations = DEMO_STATIONS.map((s) => ({ id: s.id, lat: s.lat, lon: s.lon }))
  } else if (values.stations) {
    const parsed = StationListSchema.safeParse(JSON.parse(await readFile(values.stations, 'utf8')))
    if (!parsed.success) {
      io.stderr(`${values.stations}: not a list of stations with id, lat, lon: ${parsed.error.message}`)
      return 1
    }
    stations = parsed.data
  } else {
    io.stderr('dashboards gazetteer needs --stations FILE.json or --demo\n' + USAGE)
    return 1
  }
  const out = values.out ?? DEFAULT_GAZETTEER
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, renderGazetteer(stations))
  io.stdout(`${out} (${stations.length} stations)`)
  return 0
}

/** `tidewatch dashboards <build|push|gazetteer> ...`; argv is what follows `dashboards`. */
export async function dashboardsCommand(argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  const [sub, ...rest] = argv
  try {
    switch (sub) {
      case 'build':
        return await build(rest, io)
      case 'push':
        return await push(rest, io)
      case 'gazetteer':
        return await gazetteer(rest, io)
      default:
        io.stderr(USAGE)
        return sub === undefined || sub === 'help' || sub === '--help' ? 0 : 1
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    io.stderr(`dashboards ${sub}: ${e.code ? `${e.code}: ` : ''}${e.message}`)
    return 1
  }
}
