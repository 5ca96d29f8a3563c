import type { AcceptedReading, Rejection } from '../core/reading.ts'
import { escapeTag, fieldFloat as float, fieldString as escapeFieldString } from '../influx/line-protocol.ts'

/**
 * Line protocol for the measurements in docs/DATA.md. Tags hold only what
 * identifies a point (station, sensor), so re-sent readings overwrite
 * themselves; everything else is a field.
 */
export function readingLines(r: AcceptedReading): string[] {
  const station = escapeTag(r.stationId)
  const delay = float(Math.round((r.receivedAt - r.ts) / 100) / 10)
  const lines: string[] = []
  for (const v of r.values) {
    let fields = `value=${float(v.value)},raw=${float(v.raw)},late=${r.late},delay_s=${delay}`
    if (r.seq !== undefined) fields += `,seq=${r.seq}i`
    if (v.flags.length) fields += `,flags=${escapeFieldString(v.flags.join(','))}`
    lines.push(`reading,sensor=${v.sensor},station=${station} ${fields} ${r.ts}`)
  }
  if (r.battery !== undefined || r.rssi !== undefined) {
    const fields: string[] = []
    if (r.battery !== undefined) fields.push(`battery=${float(r.battery)}`)
    if (r.rssi !== undefined) fields.push(`rssi=${float(r.rssi)}`)
    fields.push(`delay_s=${delay}`, `late=${r.late}`)
    lines.push(`station_health,station=${station} ${fields.join(',')} ${r.ts}`)
  }
  return lines
}

/**
 * Quarantine points are timed by arrival. Two rejections of the same station
 * and reason in the same millisecond would overwrite each other, so the
 * caller passes a clock that never repeats a (station, reason, ms) triple.
 */
export function quarantineLine(q: Rejection, at: number): string {
  let fields = `count=1i,detail=${escapeFieldString(q.detail)}`
  if (q.sensor) fields += `,sensor=${escapeFieldString(q.sensor)}`
  return `quarantine,reason=${q.reason},station=${escapeTag(q.stationId)} ${fields} ${at}`
}
