import { escapeTag as tag, fieldString as str } from '../influx/line-protocol.ts'
import type { Transition } from './engine.ts'
import type { OutboxRow } from './store.ts'

/** InfluxDB line protocol for alert_event and notification (docs/DATA.md), ms precision. */

export function alertEventLine(t: Transition, text: string): string {
  const fields = [`state=${str(t.to)}`, `threshold=${t.threshold}`, `incident=${str(t.incident ?? '')}`, `text=${str(text)}`]
  if (t.value !== null) fields.push(`value=${t.value}`)
  return `alert_event,station=${tag(t.station)},sensor=${tag(t.sensor)},level=${tag(t.level.name)} ${fields.join(',')} ${t.at}`
}

export function notificationLine(row: OutboxRow, status: string, at: number): string {
  return `notification,channel=${tag(row.channel)},status=${tag(status)} station=${str(row.station ?? '')},incident=${str(row.incident ?? '')},count=1i,segments=${row.segments}i ${at}`
}
