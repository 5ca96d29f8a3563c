/**
 * SensorThings fixture: stations registered and readings published over
 * MQTT (broker → ingest → influxd), so every Observation the API serves
 * came through the real pipeline.
 */
import { expect } from 'vitest'
import type { TestPlatform } from '../helpers/platform.ts'
import { stationWithReadings, type Reading } from '../board/pipeline.ts'

const HOUR = 3_600_000
const MIN = 60_000
/** Whole minutes, so every timestamp is exact in ms. */
export const BASE = Math.floor(Date.now() / MIN) * MIN

/** cm-sta-01: four core sensors, hourly for the last 24 h. Newest first: salinity 1.25, 1.5, … */
export const ONE = { id: 'cm-sta-01', name: 'Cống Cái Đôi Vàm', commune: 'Xã Cái Đôi Vàm', district: 'Huyện Phú Tân', lat: 8.86, lon: 104.81, code: 'CD01' }
/** cm-sta-02: conductivity + temperature (salinity derived with PSS-78) + water level. */
export const TWO = { id: 'cm-sta-02', name: 'Sông Đốc', commune: 'Thị trấn Sông Đốc', district: 'Huyện Trần Văn Thời', lat: 9.04, lon: 104.83, code: 'SD01', sensors: ['conductivity', 'temperature', 'water_level'] as const }
/** cm-sta-03: water level every minute, 1,100 readings: more than one page (STA_LIMITS.maxTop 1000). */
export const THREE = { id: 'cm-sta-03', name: 'Năm Căn', commune: 'Thị trấn Năm Căn', district: 'Huyện Năm Căn', lat: 8.76, lon: 104.99, sensors: ['water_level'] as const }
/** cm-sta-off: has stored readings, then disabled: must never appear. */
export const OFF = { id: 'cm-sta-off', name: 'Trạm tắt', lat: 9.1, lon: 105.1 }

export const ONE_HOURS = 24
export const THREE_COUNT = 1100

export function salinityOne(h: number): number {
  return 1 + h * 0.25
}

export async function loadStations(tp: TestPlatform): Promise<void> {
  const one: Reading[] = []
  for (let h = 1; h <= ONE_HOURS; h++) one.push({ ts: BASE - h * HOUR, values: { salinity: salinityOne(h), water_level: 50 + h, ph: 7 + (h % 5) * 0.1, no2: 0.1 } })
  await stationWithReadings(tp, ONE, one)
  const two: Reading[] = []
  // 7.3 mS/cm at 25 °C is about 4 ‰ (FIELD-NOTES, PSS-78).
  for (let h = 1; h <= 6; h++) two.push({ ts: BASE - h * HOUR, values: { conductivity: 7.3, temperature: 25, water_level: 80 } })
  await stationWithReadings(tp, { ...TWO, sensors: [...TWO.sensors] }, two)
  const three: Reading[] = []
  for (let i = 2; i < 2 + THREE_COUNT; i++) three.push({ ts: BASE - i * MIN, values: { water_level: 100 + (i % 50) } })
  await stationWithReadings(tp, { ...THREE, sensors: [...THREE.sensors] }, three)
  await stationWithReadings(tp, OFF, [{ ts: BASE - HOUR, values: { salinity: 9, water_level: 1, ph: 7, no2: 0.1 } }])
  expect(await tp.platform.ingest!.drained()).toBe(true)
  tp.platform.registry.setEnabled(OFF.id, false)
}

export async function sta(tp: TestPlatform, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  const url = path.startsWith('http') ? path : `${tp.apiUrl}/sta/v1.1${path}`
  const res = await fetch(url, { headers })
  const text = await res.text()
  let body: any = text
  if ((res.headers.get('content-type') ?? '').includes('json') && text) body = JSON.parse(text)
  return { status: res.status, headers: res.headers, text, body }
}

/** Fetches a collection and asserts 200. */
export async function list(tp: TestPlatform, path: string): Promise<any> {
  const r = await sta(tp, path)
  expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(200)
  return r.body
}

export const q = (s: string): string => encodeURIComponent(s)
