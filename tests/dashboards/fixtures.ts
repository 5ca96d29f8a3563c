/**
 * Simulated tidewatch data written as line protocol exactly as docs/DATA.md
 * describes it, so dashboard queries run against every measurement they read.
 */

import { LEVELS_REFRESH_MS, levelsLinesOf } from '../../levels/influx-levels.ts'
import { alarmLevelsRule, zoneRule } from '../../levels/zones.ts'

export const STATIONS = ['CM-001', 'CM-002', 'CM-003', 'CM-004'] as const
export const QUARTER_HOUR = 15 * 60_000
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Days of raw data: more than the 7-day alert dashboard range. */
export const RAW_DAYS = 8
/** Days of hourly rollups in "long": beyond 90 days, the range where dashboards must read the rollups. */
export const LONG_DAYS = 130

const esc = (s: string) => s.replace(/[ ,=]/g, '\\$&')
const str = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`

/** Salinity rises by station index; CM-003 sits above 4 ‰ at high tide. Semi-diurnal tide (East Sea coast). */
function salinity(stationIdx: number, t: number): number {
  const tide = Math.sin((2 * Math.PI * t) / (12.42 * HOUR))
  return Math.max(0, 0.8 + stationIdx * 1.3 + 1.2 * tide)
}

function sensorValues(i: number, t: number): Record<string, number> {
  const tide = Math.sin((2 * Math.PI * t) / (12.42 * HOUR))
  return {
    salinity: salinity(i, t),
    water_level: Math.round(120 * tide + 20 * i),
    ph: 7.4 + 0.3 * Math.sin(t / (5 * HOUR) + i),
    no2: 0.3 + 0.4 * i * Math.abs(tide),
  }
}

export interface Fixture {
  /** Lines for the default RP (`raw`). */
  raw: string[]
  /** Lines for RP `long` (the hourly rollups), written directly because CQs only cover new intervals. */
  long: string[]
}

/**
 * `station_reading`: the schema written today, one point per reading
 * (influx/schema.ts). `legacy`: the same data as the schema before it, one
 * `reading` point per sensor value and `reading_1h` rollups, which the schema
 * migration reads (tests/api/schema-equivalence.test.ts).
 */
export type FixtureSchema = 'station_reading' | 'legacy'

export function buildFixture(now: number, schema: FixtureSchema = 'station_reading'): Fixture {
  const raw: string[] = []
  const long: string[] = []
  const end = Math.floor(now / QUARTER_HOUR) * QUARTER_HOUR

  STATIONS.forEach((station, i) => {
    // CM-004 went silent two hours ago: the offline case.
    const last = station === 'CM-004' ? end - 2 * HOUR : end
    for (let t = end - RAW_DAYS * DAY; t <= last; t += QUARTER_HOUR) {
      const late = (t / QUARTER_HOUR) % 17 === 0
      const delay = late ? 1800 + i * 60 : 5 + i - (station === 'CM-002' ? 40 : 0)
      const seq = Math.floor(t / QUARTER_HOUR) % 100000
      const values = Object.entries(sensorValues(i, t))
      if (schema === 'legacy') {
        for (const [sensor, value] of values) {
          const flags = sensor === 'salinity' ? `,flags=${str('derived_pss78')}` : ''
          raw.push(`reading,sensor=${sensor},station=${esc(station)} value=${value.toFixed(3)},raw=${(value * 1.01).toFixed(3)},late=${late},delay_s=${delay},seq=${seq}i${flags} ${t}`)
        }
      } else {
        const fields = values.map(([sensor, value]) => {
          const flags = sensor === 'salinity' ? `,${sensor}_flags=${str('derived_pss78')}` : ''
          return `${sensor}=${value.toFixed(3)},${sensor}_raw=${(value * 1.01).toFixed(3)}${flags}`
        })
        raw.push(`station_reading,station=${esc(station)} ${fields.join(',')},late=${late},delay_s=${delay},seq=${seq}i ${t}`)
      }
      const battery = 12.6 - i * 0.3 - 0.4 * ((t % DAY) / DAY)
      raw.push(`station_health,station=${esc(station)} battery=${battery.toFixed(2)},rssi=${-80 - i * 9},delay_s=${delay},late=${late} ${t}`)
    }
    // Hourly rollups for the long-range panels.
    for (let t = Math.floor((end - LONG_DAYS * DAY) / HOUR) * HOUR; t < end; t += HOUR) {
      const fields: string[] = []
      for (const sensor of Object.keys(sensorValues(i, t))) {
        const samples = [0, 1, 2, 3].map((k) => sensorValues(i, t + k * QUARTER_HOUR)[sensor]!)
        const mean = samples.reduce((a, b) => a + b, 0) / samples.length
        const agg = { mean: mean.toFixed(3), min: Math.min(...samples).toFixed(3), max: Math.max(...samples).toFixed(3), count: '4i' }
        if (schema === 'legacy') long.push(`reading_1h,sensor=${sensor},station=${esc(station)} mean=${agg.mean},min=${agg.min},max=${agg.max},count=${agg.count} ${t}`)
        else fields.push(...Object.entries(agg).map(([k, v]) => `${sensor}_${k}=${v}`))
      }
      if (schema !== 'legacy') long.push(`station_reading_1h,station=${esc(station)} ${fields.join(',')} ${t}`)
    }
  })

  // Quarantine: a few rejections per hour over the last day, arrival time.
  const reasons = ['VALUE_OUT_OF_RANGE', 'TS_IN_FUTURE', 'PAYLOAD_SCHEMA', 'STATION_UNKNOWN']
  for (let k = 0; k < 96; k++) {
    const t = end - k * QUARTER_HOUR + 1234
    const reason = reasons[k % reasons.length]!
    const station = reason === 'STATION_UNKNOWN' ? 'CM-999' : STATIONS[k % STATIONS.length]!
    raw.push(`quarantine,reason=${reason},station=${esc(station)} count=1i,detail=${str(`simulated ${reason}`)},sensor=${str('salinity')} ${t}`)
  }

  // ingest_stats: cumulative counters per target every minute for a day (the ingest writes every 10 s).
  for (const [j, targetName] of ['primary', 'dr'].entries()) {
    for (let k = 0; k <= 24 * 60; k++) {
      const t = end - DAY + k * 60_000
      const received = 1000 + k * 64
      const lag = targetName === 'dr' && k > 1200 ? (k - 1200) * 30 : 0
      raw.push(
        `ingest_stats,target=${targetName} received=${received}i,accepted=${received * 4 - k}i,rejected=${k}i,spool_bytes=${(j + 1) * 4096 + lag * 200}i,lag_readings=${lag}i,lag_seconds=${lag / 4} ${t}`,
      )
    }
  }

  // Alerts: CM-003 salinity danger firing now, CM-002 warning resolved, CM-004 silent (no_data firing).
  const events: Array<[number, string, string, string, string, number, number, string]> = [
    [end - 3 * DAY, 'CM-002', 'salinity', 'warning', 'firing', 2.3, 2, 'inc-1'],
    [end - 3 * DAY + 6 * HOUR, 'CM-002', 'salinity', 'warning', 'resolved', 1.8, 2, 'inc-1'],
    [end - 2 * DAY, 'CM-003', 'salinity', 'danger', 'pending', 4.1, 4, 'inc-2'],
    [end - 2 * DAY + QUARTER_HOUR, 'CM-003', 'salinity', 'danger', 'firing', 4.4, 4, 'inc-2'],
    [end - 6 * HOUR, 'CM-003', 'ph', 'warning', 'firing', 6.3, 6.5, 'inc-4'],
    [end - 4 * HOUR, 'CM-003', 'ph', 'warning', 'resolved', 6.9, 6.5, 'inc-4'],
    [end - 90 * 60_000, 'CM-004', 'no_data', 'no_data', 'firing', 0, 2700, 'inc-3'],
  ]
  for (const [t, station, sensor, level, state, value, threshold, incident] of events) {
    raw.push(
      `alert_event,level=${level},sensor=${sensor},station=${esc(station)} state=${str(state)},value=${value},threshold=${threshold},incident=${str(incident)},text=${str(`${station} ${sensor} ${level} ${state}`)} ${t}`,
    )
  }

  // Notifications for the firing events, one SMS failed.
  const notes: Array<[number, string, string, string, string, number]> = [
    [end - 3 * DAY + 60_000, 'smpp', 'delivered', 'CM-002', 'inc-1', 1],
    [end - 2 * DAY + QUARTER_HOUR + 60_000, 'smpp', 'submitted', 'CM-003', 'inc-2', 2],
    [end - 2 * DAY + QUARTER_HOUR + 61_000, 'smpp', 'failed', 'CM-003', 'inc-2', 2],
    [end - 2 * DAY + QUARTER_HOUR + 62_000, 'webhook', 'delivered', 'CM-003', 'inc-2', 1],
    [end - 90 * 60_000 + 60_000, 'email', 'delivered', 'CM-004', 'inc-3', 1],
  ]
  for (const [t, channel, status, station, incident, segments] of notes) {
    raw.push(`notification,channel=${channel},status=${status} station=${str(station)},incident=${str(incident)},count=1i,segments=${segments}i ${t}`)
  }

  // The levels in force, as the platform's writer stores them (levels/influx-levels.ts), every refresh:
  // rice zone built-ins, and the Cà Mau city gauge's BĐ1–3 (65/75/85 cm, bulletin of 2024-12-16).
  const month = new Date(now + 7 * HOUR).getUTCMonth() + 1
  for (const station of STATIONS) {
    const rules = { ...Object.fromEntries(['salinity', 'ph', 'no2'].map((k) => [k, zoneRule('rice', k, month)])), water_level: alarmLevelsRule({ bd1: 65, bd2: 75, bd3: 85 }) }
    const lines = levelsLinesOf(station, rules)
    for (let t = end - RAW_DAYS * DAY; t <= end; t += LEVELS_REFRESH_MS) raw.push(...lines.map((l) => `${l} ${t}`))
  }

  return { raw, long }
}

/** POST /write in batches (precision=ms), as the ingest does. */
export async function writeLines(url: string, db: string, rp: string, lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 10_000) {
    const params = new URLSearchParams({ db, precision: 'ms' })
    if (rp) params.set('rp', rp)
    const res = await fetch(`${url}/write?${params}`, { method: 'POST', body: lines.slice(i, i + 10_000).join('\n') })
    if (res.status !== 204) throw new Error(`write failed ${res.status}: ${await res.text()}`)
  }
}
