import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { TidewatchError } from './errors.ts'
import { isPlainObject } from './json.ts'
import { AlertsConfigSchema } from './alerts-config.ts'
import { ClusterConfigSchema } from './cluster-config.ts'

/**
 * The whole configuration of a tidewatch process: one zod schema, parsed once
 * at start-up from an optional JSON file plus TIDEWATCH_* environment
 * overrides, then frozen. Deep code receives this object; nothing else reads
 * process.env.
 */
const port = (): z.ZodNumber => z.number().int().min(0).max(65535)

const influxTargetSchema = () =>
  z
    .object({
      /** Stable name used for the target's spool cursor and metrics, e.g. "primary", "dr". */
      name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
      url: z.url(),
      /** v1 writes to /write?db=&rp= (InfluxDB 1.x); v2 writes to /api/v2/write (2.x, 3.x, 1.8+). */
      mode: z.enum(['v1', 'v2']).default('v1'),
      database: z.string().min(1).default('tidewatch'),
      /** Retention policy that raw readings are written to (v1). Empty = the database default. */
      retentionPolicy: z.string().default(''),
      username: z.string().optional(),
      password: z.string().optional(),
      org: z.string().optional(),
      bucket: z.string().optional(),
      token: z.string().optional(),
      timeoutMs: z.number().int().positive().default(10_000),
    })
    .refine((t) => t.mode === 'v1' || (t.org && t.bucket && t.token), {
      message: 'v2 mode needs org, bucket and token',
    })

/**
 * The top-level sections, each schema built when first needed: building
 * them all costs ~20 ms of CPU, a tenth of a short CLI command (issue 13),
 * and a command whose configuration leaves a section out takes that
 * section's defaults (see sectionDefaults). The order is the output's.
 */
const SECTIONS = {
  dataDir: () => z.string().min(1).default('./data'),
  log: () => z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  /** How a service's process runs (cli/service-thread.ts, docs/PERFORMANCE.md "A thread of its own"). */
  runtime: () => z
    .object({
      /**
       * A service (`up`, `broker`, `ingest`, `api`, `edge`) runs on a thread
       * of its own with this much V8 young generation, in MB; 0 runs it on
       * the process's main thread with Node's default young generation
       * (48 MB: two 16 MB semi-spaces and a large-object space as big as
       * one, on 64-bit). A reading waits a group commit of the spool and a
       * loop turn or two, long enough to outlive a 16 MB semi-space at tens
       * of thousands of readings a second; each object that survives two
       * scavenges is copied into the old generation and collected there.
       * 384 MB (128 MB semi-spaces) lets them die young: measured in
       * docs/PERFORMANCE.md. Only what is used is committed.
       */
      youngGenerationMb: z.number().int().min(0).max(4096).default(384),
    })
    .prefault({}),
  mqtt: () => z
    .object({
      host: z.string().default('0.0.0.0'),
      port: port().default(1883),
      tlsPort: port().default(8883),
      /** TLS is enabled when both certFile and keyFile are set. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      caFile: z.string().optional(),
      maxPayloadBytes: z.number().int().positive().max(256 * 1024 * 1024).default(256 * 1024),
      /** Broker URL the standalone ingest and the simulator connect to. */
      url: z.url({ protocol: /^(mqtts?|tcp|tls|wss?)$/, error: 'must be an MQTT URL (mqtt://, mqtts://, tcp://, tls://, ws:// or wss://), e.g. mqtt://127.0.0.1:1883' }).default('mqtt://127.0.0.1:1883'),
      /**
       * Broker state (persistent sessions of external subscribers such as a
       * standalone ingest, retained station status): `level` keeps it on disk
       * in the data dir across broker restarts; `memory` does not.
       */
      persistence: z.enum(['level', 'memory']).default('level'),
      ingestUsername: z.string().default('svc:ingest'),
      /** When unset, a random secret is generated once in the data dir. */
      ingestPassword: z.string().optional(),
      /**
       * Serve plain MQTT on `port`. `false` is TLS-only mode: no plaintext
       * listener at all, and certFile/keyFile are required. Recommended in
       * production (docs/SECURITY.md): station secrets cross 4G networks.
       */
      plaintext: z.boolean().default(true),
      /**
       * Device certificates (mutual TLS, docs/SECURITY.md "Device
       * certificates"). `off`: no certificate is asked for. `optional`: a
       * station may log in with a client certificate from `clientCaFile`
       * instead of its secret. `required`: a station must (service accounts
       * such as the ingest still use their secrets). Needs TLS.
       */
      clientCerts: z.enum(['off', 'optional', 'required']).default('off'),
      /** The CA (PEM) that issues station certificates; defaults to caFile. */
      clientCaFile: z.string().optional(),
      /** A CRL (PEM) from the province's CA, honoured in the TLS layer, read at start. Revocations by `tidewatch devices revoke-cert` need none. */
      crlFile: z.string().optional(),
      /** CONNECT throttling and lockout (broker/hooks/authenticate.ts, docs/SECURITY.md "Tuning"). */
      auth: z
        .object({
          /**
           * Password checks per source address: a burst, then a rate. Many
           * stations can share one carrier-grade NAT address, and after a
           * broker restart none is in the verified cache, so this is sized
           * for a cell's worth of reconnects (~300 stations in 60 s, the
           * backoff cap of docs/PROTOCOL.md), not for one device.
           */
          perAddressBurst: z.number().int().positive().default(20),
          perAddressPerSec: z.number().positive().default(5),
          /** Password checks per username. A station connects once per session; 5 covers a flapping link. */
          perStationBurst: z.number().int().positive().default(5),
          perStationPerSec: z.number().positive().default(0.2),
          /**
           * Consecutive wrong secrets before a lockout. NIST SP 800-63B
           * §5.2.2 caps consecutive failures at 100; station secrets are
           * 144 random bits typed by nobody, so a correct device fails
           * rarely and a low threshold costs nothing.
           */
          stationLockoutAfter: z.number().int().positive().default(5),
          /** Higher for an address: one misconfigured station behind a shared NAT must not lock out its neighbours. */
          addressLockoutAfter: z.number().int().positive().default(20),
          /** First lockout; each further failure doubles it, up to lockoutMaxSec. */
          lockoutBaseSec: z.number().positive().default(1),
          /** 15 min, the lockout cap commonly recommended (OWASP Authentication Cheat Sheet, "Account Lockout"). */
          lockoutMaxSec: z.number().positive().default(900),
          /** Addresses and usernames tracked per kind; the least recently seen are forgotten beyond this. */
          maxTrackedKeys: z.number().int().positive().default(100_000),
          /** Verified (station, secret) pairs kept in memory; the province has 10^2–10^3 stations (FIELD-NOTES). */
          verifiedCacheSize: z.number().int().positive().default(20_000),
          /**
           * Password checks waiting for the scrypt worker; more are refused
           * with CONNACK 3. ~60 ms each on one core, so 256 wait at most
           * ~15 s, inside MQTT.js's default 30 s connectTimeout.
           */
          verifyQueue: z.number().int().positive().default(256),
          /**
           * Source addresses without per-address buckets and lockouts (the
           * per-username ones still apply): the host itself, where the
           * standalone ingest, the simulator and benchmarks connect from.
           * Behind a TCP proxy on the same host every station comes from
           * here, and per-address limits belong in the proxy.
           */
          exemptAddresses: z.array(z.string()).default(['127.0.0.1', '::1', '::ffff:127.0.0.1']),
        })
        .prefault({}),
    })
    .superRefine((m, ctx) => {
      if (!m.plaintext && !(m.certFile && m.keyFile)) {
        ctx.addIssue({ code: 'custom', path: ['plaintext'], message: 'TLS-only mode (plaintext: false) needs mqtt.certFile and mqtt.keyFile' })
      }
      if (m.clientCerts !== 'off' && !(m.certFile && m.keyFile && (m.clientCaFile ?? m.caFile))) {
        ctx.addIssue({ code: 'custom', path: ['clientCerts'], message: 'device certificates need TLS (mqtt.certFile, mqtt.keyFile) and the CA that issues them (mqtt.clientCaFile or mqtt.caFile)' })
      }
    })
    .prefault({}),
  http: () => z
    .object({
      host: z.string().default('0.0.0.0'),
      port: port().default(8080),
      bodyLimitBytes: z.number().int().positive().default(1024 * 1024),
      /** Bootstrap admin bearer token. When unset, one is generated in the data dir. Create named tokens with `tidewatch tokens`. */
      staffToken: z.string().min(16, 'must be at least 16 characters').optional(),
      /** Requests per minute per client IP without a token, and per token. */
      rateLimitPerMinute: z.number().int().positive().default(600),
      tokenRateLimitPerMinute: z.number().int().positive().default(6000),
    })
    .prefault({}),
  influx: () => z
    .object({
      targets: z.array(influxTargetSchema()).default([]),
      /** The target the API reads from; defaults to the first. */
      readTarget: z.string().optional(),
      /** Readings are written in batches of at most this many points. */
      batchPoints: z.number().int().positive().max(50_000).default(5000),
      /** How long a writer waits to gather a small batch; bounds publish-to-queryable latency at low rates. */
      flushIntervalMs: z.number().int().positive().default(50),
      /**
       * Batches written to one target at once, committed in spool order. Two
       * keep InfluxDB busy while the next batch is read and sent, and a slow
       * write (a compaction) no longer holds everything behind it.
       */
      writesInFlight: z.number().int().min(1).max(8).default(2),
      /** How long raw readings are kept (RP `raw`); hourly rollups are kept forever. InfluxQL duration, >= 1h. */
      rawRetention: z.string().regex(/^(\d+[wdhm])+$/, 'must be an InfluxQL duration such as 400d').default('400d'),
      /** Create the database, retention policies and continuous queries on start (InfluxDB 1.x). */
      applyRetention: z.boolean().default(true),
    })
    .prefault({}),
  ingest: () => z
    .object({
      maxBatchReadings: z.number().int().positive().max(10_000).default(500),
      /** Readings older than this are stored but marked late. */
      lateAfterSec: z.number().int().positive().default(15 * 60),
      /** Readings older than this are quarantined as TS_TOO_OLD (reset RTC). */
      maxAgeSec: z.number().int().positive().default(90 * 24 * 3600),
      /** Readings further than this in the future are quarantined as TS_IN_FUTURE. */
      maxFutureSec: z.number().int().nonnegative().default(5 * 60),
      spoolMaxBytes: z.number().int().positive().default(1024 * 1024 * 1024),
      spoolSegmentBytes: z.number().int().positive().default(16 * 1024 * 1024),
      quarantineMaxRows: z.number().int().positive().default(200_000),
    })
    .prefault({}),
  /** Threshold alerter and SMS (core/alerts-config.ts, docs/ALERTS.md). */
  alerts: () => AlertsConfigSchema,
  /** Cluster mode: NATS JetStream and PostgreSQL (core/cluster-config.ts, docs/CLUSTER.md). Off by default. */
  cluster: () => ClusterConfigSchema,
}

type Sections = typeof SECTIONS
type SectionName = keyof Sections
type SectionSchema<K extends SectionName> = ReturnType<Sections[K]>
const SECTION_NAMES = Object.keys(SECTIONS) as SectionName[]
const builtSections = new Map<SectionName, z.ZodType>()

function sectionSchema<K extends SectionName>(name: K): SectionSchema<K> {
  let schema = builtSections.get(name)
  if (!schema) builtSections.set(name, (schema = SECTIONS[name]()))
  return schema as SectionSchema<K>
}

/** The whole configuration as one schema (built on first use). */
export const ConfigSchema = z.lazy(() => z.object(Object.fromEntries(SECTION_NAMES.map((name) => [name, sectionSchema(name)])) as { [K in SectionName]: SectionSchema<K> }))

export type Config = z.infer<typeof ConfigSchema>
export type InfluxTarget = z.infer<ReturnType<typeof influxTargetSchema>>
/** What each section is when the configuration leaves it out. */
export type SectionDefaults = { [K in SectionName]: z.output<SectionSchema<K>> }

/** Each section parsed from nothing: its defaults. bin/bundle.js computes them when the CLI bundle is built. */
export function sectionDefaults(): SectionDefaults {
  return Object.fromEntries(SECTION_NAMES.map((name) => [name, sectionSchema(name).parse(undefined, { jitless: true })])) as SectionDefaults
}

/**
 * The CLI bundle's build (bin/bundle.js) replaces this name with
 * sectionDefaults() computed from these same schemas, so a short command
 * builds no schema for a section its configuration leaves out. Undefined
 * when the sources or dist/ run: every section is then parsed, as always.
 */
declare const TIDEWATCH_BUILT_SECTION_DEFAULTS: SectionDefaults | undefined
const builtDefaults = typeof TIDEWATCH_BUILT_SECTION_DEFAULTS === 'undefined' ? undefined : TIDEWATCH_BUILT_SECTION_DEFAULTS

/**
 * `ConfigSchema.safeParse(raw)`, one section at a time, without zod's JIT:
 * the configuration is parsed once per process, so the fast path zod
 * compiles for each object schema on first use would cost more than it
 * saves (~8 ms of a CLI call's start-up here, issue 13). A section left out
 * takes `defaults` when given, which is what its schema makes of nothing.
 * Same checks, same issues in the same order, same result.
 */
export function parseSections(
  raw: Readonly<Record<string, unknown>>,
  defaults: SectionDefaults | undefined = builtDefaults,
): { success: true; data: Config } | { success: false; issues: Array<{ path: PropertyKey[]; message: string }> } {
  const data: Record<string, unknown> = {}
  const issues: Array<{ path: PropertyKey[]; message: string }> = []
  for (const name of SECTION_NAMES) {
    if (raw[name] === undefined && defaults) {
      data[name] = structuredClone(defaults[name])
      continue
    }
    const parsed = sectionSchema(name).safeParse(raw[name], { jitless: true })
    if (parsed.success) data[name] = parsed.data
    else issues.push(...parsed.error.issues.map((i) => ({ path: [name, ...i.path], message: i.message })))
  }
  return issues.length ? { success: false, issues } : { success: true, data: data as Config }
}

type Env = Readonly<Record<string, string | undefined>>
/** How an environment override is read; `list` is comma-separated. */
type EnvType = 'string' | 'number' | 'boolean' | 'list'

/** Environment variable -> config path. Documented in README.md. */
const ENV_MAP: ReadonlyArray<[string, string, EnvType]> = [
  ['TIDEWATCH_DATA_DIR', 'dataDir', 'string'],
  ['TIDEWATCH_LOG_LEVEL', 'log.level', 'string'],
  ['TIDEWATCH_YOUNG_GENERATION_MB', 'runtime.youngGenerationMb', 'number'],
  ['TIDEWATCH_BIND_HOST', 'mqtt.host', 'string'],
  ['TIDEWATCH_MQTT_PORT', 'mqtt.port', 'number'],
  ['TIDEWATCH_MQTTS_PORT', 'mqtt.tlsPort', 'number'],
  ['TIDEWATCH_TLS_CERT', 'mqtt.certFile', 'string'],
  ['TIDEWATCH_TLS_KEY', 'mqtt.keyFile', 'string'],
  ['TIDEWATCH_TLS_CA', 'mqtt.caFile', 'string'],
  ['TIDEWATCH_MQTT_MAX_PAYLOAD', 'mqtt.maxPayloadBytes', 'number'],
  ['TIDEWATCH_MQTT_URL', 'mqtt.url', 'string'],
  ['TIDEWATCH_MQTT_PERSISTENCE', 'mqtt.persistence', 'string'],
  ['TIDEWATCH_INGEST_USERNAME', 'mqtt.ingestUsername', 'string'],
  ['TIDEWATCH_INGEST_PASSWORD', 'mqtt.ingestPassword', 'string'],
  ['TIDEWATCH_MQTT_PLAINTEXT', 'mqtt.plaintext', 'boolean'],
  ['TIDEWATCH_MQTT_CLIENT_CERTS', 'mqtt.clientCerts', 'string'],
  ['TIDEWATCH_MQTT_CLIENT_CA', 'mqtt.clientCaFile', 'string'],
  ['TIDEWATCH_MQTT_CRL', 'mqtt.crlFile', 'string'],
  ['TIDEWATCH_HTTP_HOST', 'http.host', 'string'],
  ['TIDEWATCH_HTTP_PORT', 'http.port', 'number'],
  ['TIDEWATCH_STAFF_TOKEN', 'http.staffToken', 'string'],
  ['TIDEWATCH_RATE_LIMIT', 'http.rateLimitPerMinute', 'number'],
  ['TIDEWATCH_TOKEN_RATE_LIMIT', 'http.tokenRateLimitPerMinute', 'number'],
  ['TIDEWATCH_LATE_AFTER_SEC', 'ingest.lateAfterSec', 'number'],
  ['TIDEWATCH_MAX_AGE_SEC', 'ingest.maxAgeSec', 'number'],
  ['TIDEWATCH_SPOOL_MAX_BYTES', 'ingest.spoolMaxBytes', 'number'],
  ['TIDEWATCH_INFLUX_RAW_RETENTION', 'influx.rawRetention', 'string'],
  ['TIDEWATCH_INFLUX_FLUSH_MS', 'influx.flushIntervalMs', 'number'],
  ['TIDEWATCH_INFLUX_WRITES_IN_FLIGHT', 'influx.writesInFlight', 'number'],
  ['TIDEWATCH_NODE_ID', 'cluster.nodeId', 'string'],
  ['TIDEWATCH_SITE', 'cluster.site', 'string'],
  ['TIDEWATCH_NATS_SERVERS', 'cluster.nats.servers', 'list'],
  ['TIDEWATCH_NATS_REPLICAS', 'cluster.nats.replicas', 'number'],
  ['TIDEWATCH_POSTGRES_URL', 'cluster.postgres.url', 'string'],
]

/** Primary and DR InfluxDB targets from the environment. */
function influxTargetsFromEnv(env: Env): unknown[] | undefined {
  const targets: unknown[] = []
  for (const [prefix, name] of [
    ['TIDEWATCH_INFLUX', 'primary'],
    ['TIDEWATCH_INFLUX_DR', 'dr'],
  ] as const) {
    const url = env[`${prefix}_URL`]
    if (!url) continue
    const t: Record<string, unknown> = { name, url }
    for (const [suffix, key] of [
      ['MODE', 'mode'],
      ['DB', 'database'],
      ['RP', 'retentionPolicy'],
      ['USERNAME', 'username'],
      ['PASSWORD', 'password'],
      ['ORG', 'org'],
      ['BUCKET', 'bucket'],
      ['TOKEN', 'token'],
    ] as const) {
      const v = env[`${prefix}_${suffix}`]
      if (v !== undefined) t[key] = v
    }
    targets.push(t)
  }
  return targets.length ? targets : undefined
}

/**
 * `{ 'cluster.nats.replicas': 3 }` → `{ cluster: { nats: { replicas: 3 } } }`:
 * config files written by launchers and tests from dotted paths, the same
 * paths the environment overrides use.
 */
export function nestPaths(flat: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [path, value] of Object.entries(flat)) setPath(out, path, value)
  return out
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = obj
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys.at(-1)!] = value
}

function envValue(name: string, raw: string, type: EnvType): unknown {
  if (type === 'string') return raw
  if (type === 'list') return raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (type === 'boolean') {
    const v = raw.trim().toLowerCase()
    // Anything else stays text so zod names the key and the reason.
    return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : raw
  }
  // Keep non-numeric text as-is so zod names the key and the reason.
  return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
}

export interface LoadConfigOptions {
  file?: string
  env?: Env
  /** Overrides applied last, e.g. from CLI flags. */
  overrides?: Record<string, unknown>
}

export function loadConfig(opts: LoadConfigOptions = {}): Readonly<Config> {
  const env = opts.env ?? {}
  let raw: Record<string, unknown> = {}
  const file = opts.file ?? env.TIDEWATCH_CONFIG
  if (file) raw = readConfigFile(file)
  for (const [name, path, type] of ENV_MAP) {
    const v = env[name]
    if (v !== undefined && v !== '') setPath(raw, path, envValue(name, v, type))
  }
  const targets = influxTargetsFromEnv(env)
  if (targets) setPath(raw, 'influx.targets', targets)
  for (const [path, value] of Object.entries(opts.overrides ?? {})) setPath(raw, path, value)

  const parsed = parseSections(raw)
  const issues = parsed.success
    ? unknownKeys(raw, parsed.data).map((key) => ({ key, reason: 'unknown key' }))
    : parsed.issues.map((i) => ({ key: i.path.join('.') || '(root)', reason: i.message }))
  if (!parsed.success || issues.length) {
    // Say where the bad value came from: the environment variable, or the file.
    const origin = (key: string): string => {
      // A list's item (`cluster.nats.servers.1`) came from the list's variable too.
      const envName = ENV_MAP.find(([name, path]) => (path === key || key.startsWith(`${path}.`)) && env[name] !== undefined && env[name] !== '')?.[0]
      return envName ? ` (${envName})` : file ? ` (${file})` : ''
    }
    const first = issues[0]!
    throw new TidewatchError('CONFIG_INVALID', { issues, file }, `Invalid config: ${first.key}: ${first.reason}${origin(first.key)}`)
  }
  const config = parsed.data
  config.dataDir = resolve(config.dataDir)
  return deepFreeze(config)
}

/** The JSON config file; its errors name the file, and the line and column of a syntax error. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new TidewatchError('CONFIG_FILE_UNREADABLE', { file, reason: (err as Error).message }, `Configuration file cannot be read: ${file}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (err) {
    const at = jsonSyntaxError(text, err)
    throw new TidewatchError('CONFIG_INVALID', { file, line: at.line, column: at.column }, `${file}:${at.line}:${at.column}: not valid JSON: ${at.reason}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TidewatchError('CONFIG_INVALID', { file }, `${file}: the configuration must be a JSON object`)
  }
  return json as Record<string, unknown>
}

/**
 * Where and why JSON.parse failed on `text`, as a line and column (1-based)
 * and a one-line reason, for errors that name the file: the config here, and
 * the JSON files CLI commands read.
 */
export function jsonSyntaxError(text: string, err: unknown): { line: number; column: number; reason: string } {
  const body = text.replace(/^\uFEFF/, '')
  const before = body.slice(0, Math.max(0, jsonErrorOffset(body)))
  const line = before.split('\n').length
  const column = before.length - before.lastIndexOf('\n')
  // V8 quotes the whole input in some messages; keep only the reason.
  const reason = (err as Error).message.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '').replace(/\r?\n/g, '\\n')
  return { line, column, reason }
}

/**
 * Offset of the first JSON syntax error: Node 20's JSON.parse names a
 * position for some errors only. A small recursive-descent check of RFC 8259,
 * run only after JSON.parse has failed.
 */
function jsonErrorOffset(text: string): number {
  let i = 0
  const fail = (): never => {
    throw i
  }
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const token = (re: RegExp): void => {
    re.lastIndex = i
    if (!re.test(text)) fail()
    i = re.lastIndex
  }
  const str = (): void => token(/"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y)
  const value = (): void => {
    ws()
    const c = text[i]
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      i++
      ws()
      if (text[i] === close) return void i++
      for (;;) {
        if (c === '{') {
          ws()
          str()
          ws()
          if (text[i] !== ':') fail()
          i++
        }
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === close) return void i++
        else fail()
      }
    }
    if (c === '"') return str()
    token(/-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y)
  }
  try {
    value()
    ws()
    if (i < text.length) fail()
    return text.length
  } catch (pos) {
    return pos as number
  }
}

/**
 * Keys of the input that the schema does not know. zod drops them without a
 * word, so a typo such as `htttp` would silently fall back to defaults; this
 * compares what was given with what was parsed, at every depth (the alerts
 * section included).
 */
function unknownKeys(input: unknown, output: unknown, path = ''): string[] {
  if (Array.isArray(input) && Array.isArray(output)) return input.flatMap((v, i) => unknownKeys(v, output[i], `${path}${i}.`))
  if (!isPlainObject(input) || !isPlainObject(output)) return []
  return Object.keys(input).flatMap((k) => (Object.hasOwn(output, k) ? unknownKeys(input[k], output[k], `${path}${k}.`) : [`${path}${k}`]))
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
