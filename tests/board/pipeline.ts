/**
 * Test fixtures shared by the board and open-data suites: register stations
 * and publish readings over MQTT, so everything the pages show came through
 * broker, ingest and InfluxDB.
 */
import mqtt from 'mqtt'
import type { Credentials, NewStation } from '../../devices/registry.ts'
import type { TestPlatform } from '../helpers/platform.ts'

export interface Reading {
  ts: number
  values: Record<string, number>
}

/** Registers a station and publishes its readings as QoS 1 batches; resolves with its credentials once every batch was acknowledged. */
export async function stationWithReadings(tp: TestPlatform, station: NewStation, readings: readonly Reading[]): Promise<Credentials> {
  const creds = await tp.platform.registry.add(station)
  const client = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  try {
    // The ingest accepts batches of up to 500 readings (ingest.maxBatchReadings).
    for (let i = 0; i < readings.length; i += 400) {
      const batch = readings.slice(i, i + 400)
      await client.publishAsync(`stations/${station.id}/readings`, JSON.stringify({ readings: batch }), { qos: 1 })
    }
  } finally {
    await client.endAsync()
  }
  return creds
}

/** The instant a local (UTC+7) wall-clock time starts. */
export function localTime(date: string, hh: number, mm = 0): number {
  return Date.parse(`${date}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:00+07:00`)
}

/** Local (UTC+7) date of an instant. */
export function localDateOf(ts: number): string {
  return new Date(ts + 7 * 3_600_000).toISOString().slice(0, 10)
}
