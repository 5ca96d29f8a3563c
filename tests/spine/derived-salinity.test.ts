/**
 * Issue 11, part 5, against real servers (influxd, the embedded broker, the
 * ingest, the alerter and the API): a salinity derived with PSS-78 from a
 * conductivity probe is range-checked like a reported one. An impossible
 * derived value is quarantined as VALUE_OUT_OF_RANGE, never stored, shown or
 * evaluated by the alerter, while the conductivity and temperature it came
 * from, and a valid derived salinity of the same station, are stored.
 */
import { expect, it } from 'vitest'
import mqtt from 'mqtt'
import { eventually, getJson, platformPerFile } from '../helpers/platform.ts'

const env = platformPerFile()

it('quarantines a derived 55.9 ‰, stores the valid derived salinity of the same station, and the alerter never sees the bad one', async () => {
  const id = 'cm-cond-01'
  const creds = await env.tp.platform.registry.add({ id, name: 'Trạm độ dẫn', lat: 9.18, lon: 105.15 })
  const station = await mqtt.connectAsync(env.tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  const now = Date.now()
  // Valid first: 1.0 mS/cm at 25 °C is fresh water, 0.4925 ‰ with the Hill
  // extension (GSW 3.6.16 SP_from_C(1.0, 25, 0) = 0.492451; stored rounded to 4 decimals).
  await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: now - 120_000, seq: 1, values: { conductivity: 1.0, temperature: 25 } }), { qos: 1 })
  // Then, newer, the impossible one: 80 mS/cm at 25 °C derives 55.9 ‰
  // (GSW SP_from_C(80, 25, 0) = 55.9009), past SENSORS.salinity.max = 50.
  // Both inputs are inside their own ranges (conductivity 0..80, temperature 0..45).
  await station.publishAsync(`stations/${id}/readings`, JSON.stringify({ ts: now - 60_000, seq: 2, values: { conductivity: 80, temperature: 25 } }), { qos: 1 })
  await station.endAsync()
  expect(await env.tp.platform.ingest!.drained(20_000)).toBe(true)

  // Quarantined with the reason code a reported out-of-range value gets.
  const q = await getJson(`${env.tp.apiUrl}/api/v1/quarantine?station=${id}`, env.tp.adminToken)
  expect(q.status).toBe(200)
  expect(q.body.entries).toHaveLength(1)
  expect(q.body.entries[0]).toMatchObject({ reason: 'VALUE_OUT_OF_RANGE', sensor: 'salinity', ts: new Date(now - 60_000).toISOString() })
  expect(q.body.entries[0].detail).toContain('salinity = 55.9009')
  expect(await env.influx.count('quarantine', `"station" = '${id}'`, 'count')).toBe(1)

  // Stored: one salinity (the valid one), both conductivities and temperatures.
  const [rows = []] = await env.influx.query.query(`SELECT "salinity", "salinity_flags" FROM "station_reading" WHERE "station" = '${id}' AND "salinity" = "salinity"`)
  expect(rows[0]?.values).toHaveLength(1)
  const [time, value, flags] = rows[0]!.values[0]!
  expect(time).toBe(now - 120_000) // the query client asks for epoch=ms
  expect(Math.abs((value as number) - 0.4925)).toBeLessThan(1e-4)
  expect(flags).toBe('derived_pss78')
  expect(await env.influx.values(`"station" = '${id}'`, ['conductivity'])).toBe(2)
  expect(await env.influx.values(`"station" = '${id}'`, ['temperature'])).toBe(2)

  // Not shown: the station's latest salinity is the older, valid value,
  // although the refused one is newer.
  const latest = await eventually(async () => (await getJson(`${env.tp.apiUrl}/api/v1/stations/${id}/latest`)).body.sensors?.salinity)
  expect(latest.value).toBeCloseTo(0.4925, 4)

  // Not alerted on: after the alerter has evaluated everything queued, its
  // latest salinity for the station is still the valid one (had 55.9 ‰ reached
  // it, being newer it would be the latest), and no alert event carries it.
  const alerter = env.tp.platform.alerter!
  alerter.flush()
  const seen = alerter.engine.latest.get(id)?.get('salinity')
  expect(seen).toMatchObject({ ts: now - 120_000 })
  expect(seen!.value).toBeCloseTo(0.4925, 4)
  expect(alerter.engine.latest.get(id)?.get('conductivity')).toMatchObject({ ts: now - 60_000, value: 80 })
  expect(alerter.events({ station: id }).filter((e) => e.sensor === 'salinity' && (e.value ?? 0) > 50)).toEqual([])
  expect(await env.tp.platform.ingest!.drained(20_000)).toBe(true)
  expect(await env.influx.count('alert_event', `"station" = '${id}' AND "sensor" = 'salinity' AND "value" > 50`, 'threshold')).toBe(0)
})
