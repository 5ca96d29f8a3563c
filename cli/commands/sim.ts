import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import type { Config } from '../../core/config.ts'
import { TidewatchError } from '../../core/errors.ts'
import type { Logger } from '../../core/log.ts'
import { Registry } from '../../devices/registry.ts'
import { DEMO_STATIONS } from '../../firmware-sim/demo-stations.ts'
import { flaky4g } from '../../firmware-sim/flaky-proxy.ts'
import { createSimulator, type StationCredentials } from '../../firmware-sim/simulator.ts'
import { defaultProfile } from '../../firmware-sim/signals.ts'
import { numberFlag, parse, readJsonFile, registryPath, zodLine, type Io } from '../args.ts'

export const USAGE = `Usage: tidewatch sim (--credentials FILE.json | --register) [--stations N] [--interval S] [--speed X]
                     [--seed N] [--url mqtt://host:1883] [--flaky] [--faults] [--ca FILE]
  --credentials: stations already registered; a JSON array of {"id","password"}
  (the output of devices add --json). --stations N takes the first N.
  --register: adds stations sim-0001..sim-N ("Trạm mô phỏng N") to the local
  registry (data dir) and saves their secrets in <data>/secrets/sim-stations.json.
  They then appear on the public board and in the open-data API like real
  stations, which is why it has to be asked for.
  --flaky puts a 4G-like link in front of the broker: 50–300 ms latency, a
  connection drop every ~5 min and a 1–5 min coverage loss about hourly, all
  compressed by --speed (never below a few seconds).`

async function localCredentials(config: Readonly<Config>, n: number): Promise<StationCredentials[]> {
  const file = join(config.dataDir, 'secrets', 'sim-stations.json')
  const saved: Record<string, string> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {}
  const registry = Registry.open(registryPath(config))
  try {
    const creds: StationCredentials[] = []
    for (let i = 1; i <= n; i++) {
      const id = `sim-${String(i).padStart(4, '0')}`
      // Spread simulated stations over the province around the demo sites.
      const base = DEMO_STATIONS[i % DEMO_STATIONS.length]!
      let secret = saved[id]
      if (!registry.get(id)) {
        secret = (await registry.add({ id, name: `Trạm mô phỏng ${i}`, lat: base.lat + ((i * 7919) % 100) / 2000, lon: base.lon + ((i * 104729) % 100) / 2000, coast: defaultProfile(id).coast, commune: base.commune, district: base.district })).password
      } else if (!secret) {
        secret = (await registry.rotate(id)).password
      }
      creds.push({ id, secret })
    }
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, JSON.stringify({ ...saved, ...Object.fromEntries(creds.map((c) => [c.id, c.secret])) }, null, 2), { mode: 0o600 })
    return creds
  } finally {
    registry.close()
  }
}

const CredentialsSchema = z.array(z.object({ id: z.string().min(1), password: z.string().min(1).optional(), secret: z.string().min(1).optional() }))

/** A credentials file; its errors name the file and the position or entry. */
async function readCredentials(file: string): Promise<StationCredentials[]> {
  const parsed = CredentialsSchema.safeParse(await readJsonFile(file))
  if (!parsed.success) {
    throw new TidewatchError('BAD_REQUEST', { file }, `${file}: expected [{"id","password"}], ${zodLine(parsed.error)}`)
  }
  return parsed.data.map((c) => ({ id: c.id, secret: c.password ?? c.secret ?? '' }))
}

export async function simCommand(argv: string[], config: Readonly<Config>, log: Logger, io: Io, until: Promise<void>): Promise<number> {
  const { values } = parse(
    argv,
    {
      stations: { type: 'string' },
      interval: { type: 'string' },
      speed: { type: 'string' },
      seed: { type: 'string' },
      url: { type: 'string' },
      credentials: { type: 'string' },
      ca: { type: 'string' },
      flaky: { type: 'boolean', default: false },
      faults: { type: 'boolean', default: false },
      register: { type: 'boolean', default: false },
    },
    false,
  )
  if (values.credentials && values.register) throw new TidewatchError('BAD_REQUEST', { flag: 'register' }, 'sim: --credentials and --register exclude each other')
  // Registering puts stations on the public board and in open data: only when asked.
  if (!values.credentials && !values.register) {
    throw new TidewatchError('BAD_REQUEST', { flag: 'credentials' }, 'sim: needs --credentials FILE.json (registered stations) or --register (adds sim-0001..sim-N to the registry)')
  }
  if (values.register && !values.stations) throw new TidewatchError('BAD_REQUEST', { flag: 'stations' }, 'sim: --register needs --stations N')
  const n = numberFlag('stations', values.stations, 0, { min: 1, max: 100_000, integer: true })
  let stations: StationCredentials[]
  if (values.credentials) {
    stations = await readCredentials(values.credentials)
    if (n) stations = stations.slice(0, n)
  } else {
    stations = await localCredentials(config, n)
  }
  const speed = numberFlag('speed', values.speed, 1, { min: 0.001 })
  const sim = createSimulator({
    brokerUrl: values.url ?? config.mqtt.url,
    stations,
    intervalSec: numberFlag('interval', values.interval, 900, { min: 0.01 }),
    speed,
    seed: numberFlag('seed', values.seed, 1, { integer: true }),
    dataDir: join(config.dataDir, 'sim'),
    flaky: values.flaky ? flaky4g(speed) : false,
    faults: values.faults ? { spike: 0.01, stuck: 0.005, outOfRange: 0.01, malformed: 0.01 } : undefined,
    ca: values.ca ? readFileSync(values.ca) : undefined,
    log,
  })
  await sim.start()
  io.stdout(`Simulating ${stations.length} stations against ${values.url ?? config.mqtt.url}. Ctrl-C to stop.`)
  const timer = setInterval(() => {
    const s = sim.stats()
    const link = sim.proxy?.stats()
    io.stderr(
      `connected ${s.connected}/${stations.length} | published ${s.published} | acked ${s.acked} | buffered ${s.buffered} | dropped ${s.dropped}` +
        (link ? ` | link ${link.linkUp ? 'up' : 'DOWN'}, ${link.cuts} cuts, ${link.outages} outages` : ''),
    )
  }, 10_000)
  timer.unref()
  await until
  clearInterval(timer)
  await sim.stop()
  return 0
}
