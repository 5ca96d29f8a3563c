/**
 * End to end through the whole platform: a station publishes over MQTT, the
 * embedded ingest accepts, the alerter evaluates on the live stream and a
 * farmer subscribed from the CLI (another process' connection, while the
 * platform runs) gets a Vietnamese SMS at a real SMPP server; alert events
 * land in InfluxDB through the spool.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { main } from '../../cli/main.ts'
import { startSmsc, waitFor, type Smsc } from '../alerts/smsc.ts'
import { eventually, startTestInflux, startTestPlatform, tempDir, type TestInflux, type TestPlatform } from '../helpers/platform.ts'

let tmp: ReturnType<typeof tempDir>
let influx: TestInflux
let smsc: Smsc
let tp: TestPlatform

beforeAll(async () => {
  tmp = tempDir()
  influx = await startTestInflux(tmp.dir)
  smsc = await startSmsc()
  const configFile = join(tmp.dir, 'tidewatch.json')
  writeFileSync(configFile, JSON.stringify({ alerts: { smsChannel: 'smpp', smpp: { enabled: true, host: '127.0.0.1', port: smsc.port, ratePerSec: 50 } } }))
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_CONFIG: configFile } })
})

afterAll(async () => {
  await tp?.stop()
  await smsc?.close()
  await influx?.server.stop()
  tmp?.cleanup()
})

it('a salinity reading over 4 ‰ reaches a CLI-subscribed farmer as one Vietnamese SMS over SMPP', async () => {
  const creds = await tp.platform.registry.add({ id: 'cm-e2e-01', name: 'Cống Tắc Thủ', commune: 'Xã Hồ Thị Kỷ', lat: 9.2, lon: 105.1 })
  let out = ''
  const code = await main(
    ['alerts', 'subscribers', 'add', '--phone', '+84912345678', '--name', 'Chú Tám', '--station', 'cm-e2e-01', '--diacritics'],
    { stdout: (s) => void (out += s), stderr: (s) => void (out += s) },
    { TIDEWATCH_DATA_DIR: tp.dataDir, TIDEWATCH_LOG_LEVEL: 'silent' },
  )
  expect(code, out).toBe(0)

  const station = await mqtt.connectAsync(tp.mqttUrl, { username: creds.username, password: creds.password, protocolVersion: 4, reconnectPeriod: 0 })
  const now = Date.now()
  for (const [i, salinity] of [1.2, 4.6, 4.8, 4.9].entries()) {
    await station.publishAsync('stations/cm-e2e-01/readings', JSON.stringify({ ts: now - (4 - i) * 60_000, values: { salinity } }), { qos: 1 })
  }
  await station.endAsync()

  const farmerMessages = () => [...smsc.messages()].filter(([to]) => to.endsWith('84912345678')).flatMap(([, list]) => list)
  await waitFor(() => farmerMessages().length > 0, 'SMS to the farmer')
  await waitFor(() => farmerMessages().some((t) => t.startsWith('NGUY HIỂM')), 'danger SMS')
  await new Promise((r) => setTimeout(r, 500))
  // The jump from 1.2 to 4.6 ‰ within the hour is a rate-of-rise warning; two
  // readings past 4 ‰ (pending) make it danger. One message each, never twice.
  const texts = farmerMessages()
  expect(texts.filter((t) => t.startsWith('NGUY HIỂM'))).toHaveLength(1)
  expect(texts.filter((t) => t.startsWith('CẢNH BÁO'))).toHaveLength(1)
  expect(smsc.submits.filter((s) => s.to.endsWith('84912345678')).every((s) => s.dataCoding === 8)).toBe(true)
  const danger = texts.find((t) => t.startsWith('NGUY HIỂM'))!
  expect(danger).toContain('Cống Tắc Thủ (cm-e2e-01)')
  expect(danger).toContain('ngưỡng 4‰')
  expect(danger.normalize('NFC')).toBe(danger)

  const events = await eventually(async () => ((await influx.count('alert_event', `"station" = 'cm-e2e-01'`, 'threshold')) > 0 ? true : undefined))
  expect(events).toBe(true)
})

it('keeps farmers\' phone numbers and rule changes behind the staff token', async () => {
  const { staffToken } = await import('../../platform/credentials.ts')
  const token = staffToken(tp.config)
  const anon = await fetch(`${tp.apiUrl}/api/v1/alerts/subscribers`)
  expect(anon.status).toBe(401)
  expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
  const wrong = await fetch(`${tp.apiUrl}/api/v1/alerts/subscribers`, { headers: { authorization: 'Bearer nope' } })
  expect(wrong.status).toBe(401)
  const staff = await fetch(`${tp.apiUrl}/api/v1/alerts/subscribers`, { headers: { authorization: `Bearer ${token}` } })
  expect(staff.status).toBe(200)
  expect(JSON.stringify(await staff.json())).toContain('84912345678')
  const post = await fetch(`${tp.apiUrl}/api/v1/alerts/subscribers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: '+84900000000' }) })
  expect(post.status).toBe(401)
  const badBody = await fetch(`${tp.apiUrl}/api/v1/alerts/subscribers`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"phone": 12' })
  expect(badBody.status).toBe(400)
  // Percent-encoding the path does not get around the check.
  expect((await fetch(`${tp.apiUrl}/api/v1/alerts/%73ubscribers`)).status).toBe(401)
  expect((await fetch(`${tp.apiUrl}/api/v1/alerts/%6Dessages`)).status).toBe(401)
  // Incidents are public information, but not who was told.
  const incidents = (await (await fetch(`${tp.apiUrl}/api/v1/alerts/incidents`)).json()) as { incidents: Array<{ id: string }> }
  expect(incidents.incidents.length).toBeGreaterThan(0)
  const detail = await fetch(`${tp.apiUrl}/api/v1/alerts/incidents/${encodeURIComponent(incidents.incidents[0]!.id)}`)
  expect(detail.status).toBe(200)
  expect(await detail.text()).not.toContain('84912345678')
  // Without a configured gateway secret the inbound webhook does not exist.
  const forged = await fetch(`${tp.apiUrl}/api/v1/alerts/inbound/http`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: '+84912345678', text: 'HUY' }) })
  expect(forged.status).toBe(404)
})

it('after a restart the alerter is warmed from InfluxDB: TT answers with the stored latest values', async () => {
  await tp.platform.ingest!.drained()
  await tp.stop()
  const configFile = join(tmp.dir, 'tidewatch.json')
  tp = await startTestPlatform({ dir: tmp.dir, influxUrl: influx.server.url, env: { TIDEWATCH_CONFIG: configFile } })
  await waitFor(() => smsc.sessions.size > 0, 'SMPP bind after restart')
  const before = smsc.submits.length
  smsc.mo('+84987654321', 'tt cm-e2e-01')
  await waitFor(() => smsc.submits.slice(before).some((s) => s.to.endsWith('84987654321')), 'TT reply')
  const reply = [...smsc.messages()].filter(([to]) => to.endsWith('84987654321')).flatMap(([, l]) => l).join(' ')
  expect(reply).toMatch(/4,9/)
})
