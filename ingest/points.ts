import type { AcceptedReading, Rejection } from '../core/reading.ts'
import { READING_MEASUREMENT, flagsField, rawField, valueField } from '../influx/schema.ts'
import { escapeTag, fieldFloat as float, fieldString as escapeFieldString } from '../influx/line-protocol.ts'

/**
 * Line protocol for the measurements in docs/DATA.md. One `station_reading`
 * point per reading (influx/schema.ts): its only tag is the station, so a
 * re-sent reading (same station, same device timestamp) overwrites itself;
 * every sensor value is a field.
 */
export function readingLines(r: AcceptedReading): string[] {
  const station = escapeTag(r.stationId)
  const delay = float(Math.round((r.receivedAt - r.ts) / 100) / 10)
  const lines: string[] = []
  if (r.values.length > 0) {
    let fields = ''
    for (const v of r.values) {
      fields += `${valueField(v.sensor)}=${float(v.value)},${rawField(v.sensor)}=${float(v.raw)},`
      if (v.flags.length) fields += `${flagsField(v.sensor)}=${escapeFieldString(v.flags.join(','))},`
    }
    fields += `late=${r.late},delay_s=${delay}`
    if (r.seq !== undefined) fields += `,seq=${r.seq}i`
    lines.push(`${READING_MEASUREMENT},station=${station} ${fields} ${r.ts}`)
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
