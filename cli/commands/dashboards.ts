import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { renderDashboards, writeDashboards } from '../../dashboards/build.ts'
import { StationListSchema, renderGazetteer, type StationLocation } from '../../dashboards/gazetteer.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'
import { pushDashboards } from '../../dashboards/push.ts'
import { packageRoot, parse, readJsonFile, subcommandOf, zodLine, type Io } from '../args.ts'

/** Each subcommand's usage, printed alone by `tidewatch dashboards <subcommand> --help` (args.ts usageFor). */
export const SUBCOMMANDS = {
  build: `  tidewatch dashboards build [--out DIR]
      Writes the Grafana dashboards as JSON (default: grafana/dashboards/).`,
  push: `  tidewatch dashboards push --url URL --token TOKEN [--folder NAME]
      Uploads them through Grafana's HTTP API (service-account token), creating
      the folder (default "Tidewatch") if missing. Safe to repeat.`,
  gazetteer: `  tidewatch dashboards gazetteer (--stations FILE.json | --demo) [--out FILE]
      Writes the station gazetteer the overview map uses from a JSON list of
      {id, lat, lon}, or from the demo stations
      (default: grafana/gazetteer/tidewatch-stations.json).`,
}

export const USAGE = `Usage:\n${Object.values(SUBCOMMANDS).join('\n')}\nSee docs/GRAFANA.md.`

// From the package root, not from this module: the compiled module sits one level deeper, in dist/.
const DEFAULT_OUT_DIR = join(packageRoot(), 'grafana', 'dashboards')
const DEFAULT_GAZETTEER = join(packageRoot(), 'grafana', 'gazetteer', 'tidewatch-stations.json')

async function build(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { out: { type: 'string' } }, false)
  const files = await writeDashboards(values.out ?? DEFAULT_OUT_DIR)
  for (const f of files) io.stdout(f)
  return 0
}

async function push(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, folder: { type: 'string' } }, false)
  if (!values.url || !values.token) {
    io.stderr('tidewatch: BAD_REQUEST: dashboards push needs --url and --token (tidewatch dashboards push --help)')
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
    const parsed = StationListSchema.safeParse(await readJsonFile(values.stations))
    if (!parsed.success) {
      io.stderr(`tidewatch: BAD_REQUEST: dashboards gazetteer: ${values.stations}: not a list of stations with id, lat, lon: ${zodLine(parsed.error)}`)
      return 1
    }
    stations = parsed.data
  } else {
    io.stderr('tidewatch: BAD_REQUEST: dashboards gazetteer needs --stations FILE.json or --demo (tidewatch dashboards gazetteer --help)')
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
  const [sub, rest] = subcommandOf(argv)
  try {
    switch (sub) {
      case 'build':
        return await build(rest, io)
      case 'push':
        return await push(rest, io)
      case 'gazetteer':
        return await gazetteer(rest, io)
      case undefined:
        io.stdout(USAGE)
        return 0
      default:
        io.stderr(`tidewatch: BAD_REQUEST: dashboards: unknown subcommand "${sub}" (tidewatch dashboards --help)`)
        return 1
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    // The same shape as every other command: `tidewatch: CODE: what went wrong`.
    const message = e.message.split('\n', 1)[0]!
    const coded = e.code && message.startsWith(`${e.code}: `) ? message.slice(e.code.length + 2) : message
    io.stderr(`tidewatch: ${e.code ?? 'INTERNAL'}: dashboards ${sub}: ${coded}`)
    return 1
  }
}
