import { readFileSync } from 'node:fs'
import { TidewatchError } from '../../core/errors.ts'
import { isSensorKind, type SensorKind } from '../../core/sensors.ts'
import { normalizeStationCode, STATION_CODE_PATTERN, validateStationId, type Coast, type Credentials, type Registry, type NewStation, type Station } from '../../devices/registry.ts'
import type { MetadataRepository } from '../../cluster/metadata/repository.ts'
import type { OperatorRepository } from '../../cluster/metadata/open.ts'
import type { AuditEntry } from '../../api/auth/audit.ts'
import type { RuleBook } from '../../levels/book.ts'
import { AlarmLevelsSchema, alarmLevelsRule, isZone, ZONES, type AlarmLevels, type Zone } from '../../levels/zones.ts'
import { cliActor, numberFlag, parse, printList, subcommandOf, timeCell, usageFor, type Io } from '../args.ts'
import { detectDelimiter, parseCsvRows } from '../../core/csv.ts'

// `tidewatch devices list` loads only the registry: the rule book, the audit
// log, the API's station view and the certificate commands are imported by
// the subcommands that change something (issue 13: devices list in 300 ms).
// In cluster mode (cluster.postgres.url) cli/main.ts opens the shared
// PostgreSQL repository instead, and every subcommand goes through it
// (issue 16); the repository is only a type here, so the SQLite path never
// loads pg or cluster/.

/** What the commands work on: the node's own SQLite registry, or in cluster mode the shared metadata repository. */
export type MetadataSource = Registry | MetadataRepository

/** Splits a source into the one it is (a repository names its backend; the Registry does not). */
export function sourceOf(source: MetadataSource): { registry: Registry; repo?: undefined } | { repo: MetadataRepository; registry?: undefined } {
  return 'backend' in source ? { repo: source } : { registry: source }
}

/**
 * Records an operator's change in cluster mode: in the cluster's audit log
 * when the source carries one (cluster/metadata/open.ts withOperatorRepository
 * gives every cluster-mode command one), under the CLI's operator name.
 */
export function clusterAuditOf(repo: MetadataRepository): (entry: Omit<AuditEntry, 'actor' | 'role'>) => Promise<void> {
  const sink = 'audit' in repo ? (repo as OperatorRepository).audit : undefined
  return async (entry) => {
    await sink?.record({ actor: cliActor(), role: 'admin', ...entry })
  }
}

/**
 * Printed by `tidewatch devices --help`, or one subcommand's part by
 * `tidewatch devices <subcommand> --help` (cli/main.ts answers --help before
 * any registry is opened); the certificate subcommands' live with them.
 */
export async function usage(args: readonly string[] = []): Promise<string> {
  const all = { ...SUBCOMMANDS, ...(await import('./device-certs.ts')).DEVICE_CERTS_USAGE }
  return usageFor(`Usage:\n${Object.values(all).join('\n')}`, all, args)
}

const SUBCOMMANDS = {
  add: `  tidewatch devices add <id> --name NAME --lat LAT --lon LON [--sensors salinity,water_level,ph,no2]
                             [--commune C] [--district D] [--coast east|west|inland] [--interval SECONDS]
                             [--zone rice|rice_shrimp|brackish_aquaculture|water_supply|monitoring]
                             [--code SD01] [--bd BD1,BD2,BD3] [--json] [--cert [--out DIR]]
      registers a station and prints its MQTT password once; --cert also writes its
      client certificate and key, as devices cert does (--out DIR).
      --zone: what the water is used for; decides the alert levels and advice (docs/ALERTS.md). Default rice.
      --code: short code farmers text to subscribe (DK SD01). --bd: official alarm levels BĐ1–BĐ3, cm.`,
  set: `  tidewatch devices set <id> [--zone Z] [--code C] [--bd BD1,BD2,BD3] [--name N]
      changes a station: --zone, --code and --bd as for devices add; --code '' removes
      its SMS code, --bd '' its own alarm levels (its zone's apply again).`,
  list: `  tidewatch devices list [--json]`,
  rotate: `  tidewatch devices rotate <id> [--json]
      a new MQTT password, printed once; the old one no longer connects.`,
  disable: `  tidewatch devices disable <id>
      the broker refuses the station's CONNECT, and the ingest its readings, until enable.`,
  enable: `  tidewatch devices enable <id>`,
  import: `  tidewatch devices import FILE.csv [--json]
      CSV header: id,name,lat,lon[,commune,district,sensors,coast,interval,zone,code,bd1,bd2,bd3]
      (sensors separated by "|"; a file whose header uses ";" is read as Excel's semicolon CSV);
      every row is checked before any is registered; prints the new credentials once.`,
}

function parseSensors(value: string | undefined): SensorKind[] | undefined {
  if (value === undefined) return undefined
  const kinds = value.split(/[,;|]/).map((s) => s.trim()).filter(Boolean)
  const bad = kinds.filter((k) => !isSensorKind(k))
  if (bad.length || kinds.length === 0) {
    throw new TidewatchError('BAD_REQUEST', { flag: 'sensors', bad }, `--sensors: unknown sensor kind(s) ${bad.join(', ') || '(none given)'}; use salinity, water_level, ph, no2, temperature, conductivity`)
  }
  return kinds as SensorKind[]
}

function parseCoast(value: string | undefined): Coast | undefined {
  if (value === undefined || value === '') return undefined
  if (value === 'east' || value === 'west' || value === 'inland') return value
  throw new TidewatchError('BAD_REQUEST', { flag: 'coast', value }, `--coast must be east, west or inland, got "${value}"`)
}

function parseZone(value: string | undefined): Zone | undefined {
  if (value === undefined || value === '') return undefined
  if (isZone(value)) return value
  throw new TidewatchError('STATION_ZONE_INVALID', { flag: 'zone', value }, `--zone must be one of ${ZONES.join(', ')}, got "${value}"`)
}

function parseCode(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  const code = normalizeStationCode(value)
  if (!STATION_CODE_PATTERN.test(code)) throw new TidewatchError('STATION_CODE_INVALID', { flag: 'code', value }, `--code must be 2–4 letters then 1–3 digits (e.g. SD01), got "${value}"`)
  return code
}

function parseAlarmLevels(values: Array<string | undefined>, flag: string): AlarmLevels | undefined {
  if (values.every((v) => v === undefined || v === '')) return undefined
  const nums = values.map((v) => Number(v))
  const parsed = AlarmLevelsSchema.safeParse({ bd1: nums[0], bd2: nums[1], bd3: nums[2] })
  if (!parsed.success || nums.some((n) => !Number.isFinite(n))) {
    throw new TidewatchError('BAD_REQUEST', { flag, values }, `${flag}: three rising numbers in cm are needed (BĐ1 < BĐ2 < BĐ3), e.g. 75,85,95`)
  }
  return parsed.data
}

function printCredentials(io: Io, creds: { id: string; username: string; password: string }, json: boolean): void {
  if (json) return io.stdout(JSON.stringify({ id: creds.id, username: creds.username, password: creds.password }))
  io.stdout(`Station ${creds.id}\n  MQTT username: ${creds.username}\n  MQTT password: ${creds.password}\nThe password is shown only this once; put it in the station's firmware now.`)
}

type StationView = ReturnType<typeof import('../../api/routes/stations.ts').publicStation>

/**
 * What the changing subcommands do, over either backend, with the same
 * stable errors (STATION_EXISTS, STATION_NOT_FOUND, STATION_CODE_TAKEN, …).
 */
interface StationStore {
  get(id: string): Promise<Station | undefined>
  /** STATION_NOT_FOUND, naming the station. */
  require(id: string): Promise<Station>
  byCode(code: string): Promise<string | undefined>
  add(input: NewStation): Promise<Credentials>
  update(id: string, patch: Parameters<Registry['update']>[1]): Promise<void>
  setEnabled(id: string, enabled: boolean): Promise<void>
  rotate(id: string): Promise<Credentials>
  /** Stores the station's water-level alarm levels (BĐ1–BĐ3); null removes its own, so its zone's apply again. */
  setAlarmLevels(id: string, levels: AlarmLevels | null): Promise<void>
  /** The station as the API shows it, alarm levels resolved as the alerter resolves them. */
  view(id: string): Promise<StationView | undefined>
  /** Audits a change with the station's view before it and after it. */
  record(action: string, id: string, before: unknown): Promise<void>
}

const notFound = (id: string) => new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)

/**
 * The node's SQLite registry with its rule book and audit log, which records
 * each change with the station's public view before and after it.
 */
async function sqliteStore(registry: Registry): Promise<StationStore> {
  const [{ AuditLog }, { RuleBook }, { publicStation }] = await Promise.all([
    import('../../api/auth/audit.ts'),
    import('../../levels/book.ts'),
    import('../../api/routes/stations.ts'),
  ])
  const audit = new AuditLog(registry.db)
  const rules: RuleBook = new RuleBook(registry.db, registry)
  const view = (id: string) => {
    const s = registry.get(id)
    return s ? publicStation(s, rules) : undefined
  }
  return {
    get: async (id) => registry.get(id),
    require: async (id) => registry.require(id),
    byCode: async (code) => registry.byCode(code),
    add: (input) => registry.add(input),
    update: async (id, patch) => void registry.update(id, patch),
    setEnabled: async (id, enabled) => registry.setEnabled(id, enabled),
    rotate: (id) => registry.rotate(id),
    setAlarmLevels: async (id, levels) => {
      if (levels) rules.set(id, 'water_level', alarmLevelsRule(levels), Date.now())
      else rules.remove(id, 'water_level')
    },
    view: async (id) => view(id),
    record: async (action, id, before) =>
      audit.record({ actor: cliActor(), role: 'admin', action: `devices ${action}`, target: `station:${id}`, before, after: view(id) }),
  }
}

/**
 * The cluster's PostgreSQL repository: every node's replica or mirror sees
 * each change through the change feed, and each change is recorded in the
 * cluster's audit log (clusterAuditOf), as the SQLite path records it in the
 * node's.
 */
async function postgresStore(repo: MetadataRepository): Promise<StationStore> {
  const [{ default: Database }, { RuleBook, singleZone, zoneScope }, { publicStation }] = await Promise.all([
    import('better-sqlite3'),
    import('../../levels/book.ts'),
    import('../../api/routes/stations.ts'),
  ])
  const view = async (id: string): Promise<StationView | undefined> => {
    const s = await repo.getStation(id)
    if (!s) return undefined
    // The rules that can apply to this station, resolved by the same RuleBook
    // the alerter uses (station, then zone, then the zone's built-ins, then
    // default) over an in-memory copy, so the view is the one SQLite gives.
    const db = new Database(':memory:')
    try {
      const book = new RuleBook(db, singleZone(s.zone))
      const now = Date.now()
      for (const scope of [id, zoneScope(s.zone), 'default']) {
        for (const [sensor, rule] of Object.entries(await repo.rules(scope))) book.set(scope, sensor, rule, now)
      }
      return publicStation(s, book)
    } finally {
      db.close()
    }
  }
  const require = async (id: string): Promise<Station> => (await repo.getStation(id)) ?? Promise.reject(notFound(id))
  const audit = clusterAuditOf(repo)
  return {
    get: (id) => repo.getStation(id),
    require,
    byCode: (code) => repo.stationByCode(code),
    add: (input) => repo.addStation(input),
    update: async (id, patch) => void (await repo.updateStation(id, patch)),
    setEnabled: (id, enabled) => repo.setEnabled(id, enabled),
    rotate: (id) => repo.rotate(id),
    setAlarmLevels: async (id, levels) => {
      if (levels) await repo.setRule(id, 'water_level', alarmLevelsRule(levels))
      else await repo.deleteRule(id, 'water_level')
    },
    view,
    record: async (action, id, before) => audit({ action: `devices ${action}`, target: `station:${id}`, before, after: await view(id) }),
  }
}

/** Raised for what only the SQLite registry can do yet (device certificates). */
function notInCluster(what: string): TidewatchError {
  return new TidewatchError('CLUSTER_MODE_UNSUPPORTED', { what }, `${what} is not available in cluster mode yet (cluster.postgres.url is set); use a node without it`)
}

async function importCsv(store: StationStore, file: string, io: Io, json: boolean): Promise<number> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new TidewatchError('CSV_INVALID', { file }, `cannot read ${file}: ${(err as Error).message}`)
  }
  // Comma-separated, or semicolon-separated as Excel writes it on a Vietnamese Windows.
  const [header, ...rows] = parseCsvRows(text, detectDelimiter(text)).rows
  if (!header) throw new TidewatchError('CSV_INVALID', { file }, 'CSV file is empty')
  const cols = header.map((h) => h.trim().toLowerCase())
  for (const required of ['id', 'name', 'lat', 'lon']) {
    if (!cols.includes(required)) throw new TidewatchError('CSV_INVALID', { file, missing: required }, `CSV header lacks column "${required}"`)
  }
  // Validate every row before registering any, so a bad file changes nothing.
  const stations: Array<NewStation & { alarmLevels?: AlarmLevels }> = rows.map((r, i) => {
    const get = (name: string): string | undefined => {
      const idx = cols.indexOf(name)
      const v = idx >= 0 ? r[idx]?.trim() : undefined
      return v === '' ? undefined : v
    }
    const line = i + 2
    try {
      validateStationId(get('id') ?? '')
      return {
        id: get('id') ?? '',
        name: get('name') ?? '',
        lat: numberFlag('lat', get('lat') ?? '', NaN, { min: -90, max: 90 }),
        lon: numberFlag('lon', get('lon') ?? '', NaN, { min: -180, max: 180 }),
        commune: get('commune') ?? null,
        district: get('district') ?? null,
        sensors: parseSensors(get('sensors')),
        coast: parseCoast(get('coast')) ?? null,
        intervalSec: get('interval') ? numberFlag('interval', get('interval'), 900, { min: 1, integer: true }) : undefined,
        zone: parseZone(get('zone')),
        code: parseCode(get('code')) ?? null,
        alarmLevels: parseAlarmLevels([get('bd1'), get('bd2'), get('bd3')], 'bd1,bd2,bd3'),
      }
    } catch (err) {
      throw new TidewatchError('CSV_INVALID', { file, line }, `${file}:${line}: ${(err as Error).message}`)
    }
  })
  const seen = new Set<string>()
  for (const [i, s] of stations.entries()) {
    if (!s.name) throw new TidewatchError('CSV_INVALID', { file, line: i + 2 }, `${file}:${i + 2}: name is empty`)
    if (seen.has(s.id)) throw new TidewatchError('CSV_INVALID', { file, line: i + 2 }, `${file}:${i + 2}: duplicate id "${s.id}"`)
    if (await store.get(s.id)) throw new TidewatchError('CSV_INVALID', { file, line: i + 2 }, `${file}:${i + 2}: station "${s.id}" already exists`)
    if (s.code && ((await store.byCode(s.code)) || stations.some((o, j) => j < i && o.code === s.code))) {
      throw new TidewatchError('CSV_INVALID', { file, line: i + 2 }, `${file}:${i + 2}: SMS code "${s.code}" is already taken`)
    }
    seen.add(s.id)
  }
  const created = []
  for (const s of stations) {
    created.push(await store.add(s))
    if (s.alarmLevels) await store.setAlarmLevels(s.id, s.alarmLevels)
  }
  // The one-time passwords first, then the audit records: a failed record (exit 3, the record in the message) must not lose them.
  if (json) io.stdout(JSON.stringify(created))
  else {
    io.stdout('id,username,password')
    for (const c of created) io.stdout(`${c.id},${c.username},${c.password}`)
    io.stderr(`Imported ${created.length} stations. The passwords above are shown only once.`)
  }
  for (const s of stations) await store.record('import', s.id, undefined)
  return 0
}

export async function devicesCommand(argv: string[], source: MetadataSource, io: Io): Promise<number> {
  const { registry, repo } = sourceOf(source)
  const [sub, rest] = subcommandOf(argv)
  if (sub === 'list') {
    const { values } = parse(rest, { json: { type: 'boolean', default: false } }, false)
    printList(io, values.json, registry ? registry.list() : await repo.listStations(), ['ID', 'CODE', 'NAME', 'ZONE', 'LAT', 'LON', 'SENSORS', 'ENABLED', 'LAST SEEN'], (s) => [
      s.id, s.code ?? '-', s.name, s.zone, s.lat, s.lon, s.sensors.map((x) => x.kind).join(','), s.enabled ? 'yes' : 'no', timeCell(s.lastSeenAt),
    ])
    return 0
  }
  if (sub === 'cert' || sub === 'revoke-cert') {
    if (!registry) throw notInCluster(`devices ${sub}`)
    return (await import('./device-certs.ts')).deviceCertsCommand(sub, rest, registry, io)
  }
  if (sub === undefined || sub === 'help') {
    io.stdout(await usage())
    return 0
  }
  if (sub !== 'add' && sub !== 'set' && sub !== 'rotate' && sub !== 'disable' && sub !== 'enable' && sub !== 'import') {
    throw new TidewatchError('BAD_REQUEST', { sub }, `devices: unknown subcommand "${sub}"`)
  }
  const store = registry ? await sqliteStore(registry) : await postgresStore(repo)
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, {
        name: { type: 'string' },
        lat: { type: 'string' },
        lon: { type: 'string' },
        sensors: { type: 'string' },
        commune: { type: 'string' },
        district: { type: 'string' },
        coast: { type: 'string' },
        interval: { type: 'string' },
        zone: { type: 'string' },
        code: { type: 'string' },
        bd: { type: 'string' },
        json: { type: 'boolean', default: false },
        cert: { type: 'boolean', default: false },
        out: { type: 'string' },
      })
      const id = positionals[0]
      if (!id) throw new TidewatchError('BAD_REQUEST', {}, `devices add needs a station id\n${SUBCOMMANDS.add}`)
      if (!values.name) throw new TidewatchError('BAD_REQUEST', { flag: 'name' }, '--name is required')
      if (values.lat === undefined || values.lon === undefined) throw new TidewatchError('BAD_REQUEST', { flag: values.lat === undefined ? 'lat' : 'lon' }, '--lat and --lon are required')
      const alarmLevels = values.bd === undefined ? undefined : parseAlarmLevels(values.bd.split(','), '--bd')
      if (values.cert && !registry) throw notInCluster('devices add --cert')
      const certs = values.cert ? await import('./device-certs.ts') : undefined
      if (registry) certs?.assertCanIssue(registry, id)
      const creds = await store.add({
        id,
        name: values.name,
        lat: numberFlag('lat', values.lat, NaN, { min: -90, max: 90 }),
        lon: numberFlag('lon', values.lon, NaN, { min: -180, max: 180 }),
        sensors: parseSensors(values.sensors),
        commune: values.commune ?? null,
        district: values.district ?? null,
        coast: parseCoast(values.coast) ?? null,
        intervalSec: values.interval ? numberFlag('interval', values.interval, 900, { min: 1, integer: true }) : undefined,
        zone: parseZone(values.zone),
        code: parseCode(values.code) ?? null,
      })
      if (alarmLevels) await store.setAlarmLevels(id, alarmLevels)
      // The one-time password first: a failed audit record (exit 3, the record in the message) must not lose it.
      printCredentials(io, creds, values.json)
      await store.record('add', id, undefined)
      if (certs && registry) await certs.issueCertFiles(registry, id, { out: values.out, json: values.json }, io)
      return 0
    }
    case 'set': {
      const { values, positionals } = parse(rest, { zone: { type: 'string' }, code: { type: 'string' }, bd: { type: 'string' }, name: { type: 'string' } })
      const id = positionals[0]
      if (!id) throw new TidewatchError('BAD_REQUEST', {}, `devices set needs a station id\n${SUBCOMMANDS.set}`)
      await store.require(id) // STATION_NOT_FOUND, naming the station
      const before = await store.view(id)
      const patch: Parameters<Registry['update']>[1] = {}
      if (values.zone !== undefined) patch.zone = parseZone(values.zone)!
      if (values.code !== undefined) patch.code = values.code === '' ? null : parseCode(values.code)!
      if (values.name !== undefined) patch.name = values.name
      const alarmLevels = values.bd === undefined || values.bd === '' ? undefined : parseAlarmLevels(values.bd.split(','), '--bd')
      await store.update(id, patch)
      if (alarmLevels) await store.setAlarmLevels(id, alarmLevels)
      else if (values.bd === '') await store.setAlarmLevels(id, null)
      await store.record('set', id, before)
      io.stdout(JSON.stringify(await store.view(id)))
      return 0
    }
    case 'rotate': {
      const { values, positionals } = parse(rest, { json: { type: 'boolean', default: false } })
      if (!positionals[0]) throw new TidewatchError('BAD_REQUEST', {}, 'devices rotate needs a station id')
      const creds = await store.rotate(positionals[0])
      printCredentials(io, creds, values.json)
      await store.record('rotate', positionals[0], { credentials: 'previous' })
      return 0
    }
    case 'disable':
    case 'enable': {
      const { positionals } = parse(rest, {})
      if (!positionals[0]) throw new TidewatchError('BAD_REQUEST', {}, `devices ${sub} needs a station id`)
      const before = await store.view(positionals[0])
      await store.setEnabled(positionals[0], sub === 'enable')
      await store.record(sub, positionals[0], before)
      io.stdout(`Station ${positionals[0]} ${sub}d.`)
      return 0
    }
    case 'import': {
      const { values, positionals } = parse(rest, { json: { type: 'boolean', default: false } })
      if (!positionals[0]) throw new TidewatchError('BAD_REQUEST', {}, 'devices import needs a CSV file')
      return importCsv(store, positionals[0], io, values.json)
    }
  }
}
