/**
 * Issue 6: tokens and roles, the management API with success and every error
 * class, the audit log (every write recorded, append-only), rate limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import { startApiFixture, type ApiFixture } from './fixture.ts'

let f: ApiFixture
beforeAll(async () => {
  f = await startApiFixture()
})
afterAll(async () => f?.stop())

describe('tokens and roles', () => {
  it('every write needs a token: 401 without, 401 with an unknown one, 403 with too small a role', async () => {
    const body = { id: 'cm-auth-01', name: 'A', lat: 9, lon: 105 }
    expect((await f.call('POST', '/api/v1/stations', { body })).status).toBe(401)
    const unknown = await f.call('POST', '/api/v1/stations', { body, token: 'tw_nope' })
    expect(unknown.status).toBe(401)
    expect(unknown.body.error.code).toBe('UNAUTHORIZED')
    const read = await f.call('POST', '/api/v1/stations', { body, token: f.tokens.read })
    expect(read.status).toBe(403)
    expect(read.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'staff', role: 'read' } })
    expect((await f.call('POST', '/api/v1/stations', { body, token: f.tokens.staff })).status).toBe(201)
  })

  it('deleting a station needs admin', async () => {
    await f.call('POST', '/api/v1/stations', { body: { id: 'cm-del-01', name: 'D', lat: 9, lon: 105 }, token: f.tokens.staff })
    expect((await f.call('DELETE', '/api/v1/stations/cm-del-01', { token: f.tokens.staff })).status).toBe(403)
    expect((await f.call('DELETE', '/api/v1/stations/cm-del-01', { token: f.tokens.admin })).status).toBe(204)
    expect((await f.call('GET', '/api/v1/stations/cm-del-01')).status).toBe(404)
  })

  it('personal data needs at least read; revoking a token works at once', async () => {
    expect((await f.call('GET', '/api/v1/alerts/subscribers')).status).toBe(401)
    expect((await f.call('GET', '/api/v1/alerts/subscribers', { token: f.tokens.read })).status).toBe(200)
    const made = JSON.parse((await f.cli(['tokens', 'create', '--name', 'temp', '--role', 'read', '--json'])).out)
    expect((await f.call('GET', '/api/v1/audit', { token: made.token })).status).toBe(200)
    expect((await f.cli(['tokens', 'revoke', String(made.id)])).code).toBe(0)
    expect((await f.call('GET', '/api/v1/audit', { token: made.token })).status).toBe(401)
    const list = await f.cli(['tokens', 'list', '--json'])
    expect(list.out).not.toContain(made.token)
  })
})

describe('management API', () => {
  it('creates a station and returns its credentials once; the station can log in', async () => {
    const r = await f.call('POST', '/api/v1/stations', {
      token: f.tokens.staff,
      body: { id: 'cm-mgmt-01', name: 'Vàm Đầm Dơi', lat: 8.99, lon: 105.19, commune: 'Xã Tân Duyệt', district: 'Huyện Đầm Dơi', coast: 'east', sensors: ['salinity', { kind: 'ph', offset: 0.1, scale: 1 }] },
    })
    expect(r.status).toBe(201)
    expect(r.body.credentials.username).toBe('cm-mgmt-01')
    expect(r.body.station.sensors.map((s: { kind: string }) => s.kind)).toEqual(['ph', 'salinity'])
    const c = await mqtt.connectAsync(f.tp.mqttUrl, { username: 'cm-mgmt-01', password: r.body.credentials.password, reconnectPeriod: 0, protocolVersion: 4 })
    await c.endAsync()
    expect(JSON.stringify((await f.call('GET', '/api/v1/stations/cm-mgmt-01')).body)).not.toContain(r.body.credentials.password)
  })

  it('edits, disables, calibrates and rotates', async () => {
    const patched = await f.call('PATCH', '/api/v1/stations/cm-mgmt-01', { token: f.tokens.staff, body: { name: 'Vàm Đầm Dơi (mới)', intervalSec: 600, enabled: false } })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ name: 'Vàm Đầm Dơi (mới)', intervalSec: 600, enabled: false })
    const cal = await f.call('PUT', '/api/v1/stations/cm-mgmt-01/sensors/salinity', { token: f.tokens.staff, body: { offset: -0.2, scale: 1.05 } })
    expect(cal.body.sensors.find((s: { kind: string }) => s.kind === 'salinity').calibration).toEqual({ offset: -0.2, scale: 1.05 })
    const rot = await f.call('POST', '/api/v1/stations/cm-mgmt-01/rotate', { token: f.tokens.staff })
    expect(rot.body.credentials.password).toMatch(/^[A-Za-z0-9_-]{20,}$/)
  })

  it('answers bad bodies and params with 400 naming the field, unknown stations with 404, duplicates with 409', async () => {
    const bad = await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, body: { id: 'bad id', name: 'x', lat: 99, lon: 105 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BAD_REQUEST')
    expect(JSON.stringify(bad.body.error.details)).toMatch(/id|lat/)
    expect((await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, raw: '{"id": ' })).status).toBe(400)
    expect((await f.call('PATCH', '/api/v1/stations/cm-mgmt-01', { token: f.tokens.staff, body: {} })).status).toBe(400)
    expect((await f.call('PATCH', '/api/v1/stations/cm-mgmt-01', { token: f.tokens.staff, body: { colour: 'red' } })).status).toBe(400)
    expect((await f.call('PUT', '/api/v1/stations/cm-mgmt-01/sensors/oxygen', { token: f.tokens.staff, body: {} })).status).toBe(400)
    expect((await f.call('PUT', '/api/v1/stations/cm-mgmt-01/sensors/ph', { token: f.tokens.staff, body: { scale: 0 } })).status).toBe(400)
    expect((await f.call('PATCH', '/api/v1/stations/nope', { token: f.tokens.staff, body: { name: 'x' } })).status).toBe(404)
    expect((await f.call('POST', '/api/v1/stations/nope/rotate', { token: f.tokens.staff })).status).toBe(404)
    const dup = await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, body: { id: 'cm-mgmt-01', name: 'x', lat: 9, lon: 105 } })
    expect(dup.status).toBe(409)
    expect(dup.body.error.code).toBe('STATION_EXISTS')
  })

  it('exports readings as CSV', async () => {
    const r = await f.call('GET', '/api/v1/stations/cm-mgmt-01/readings.csv?sensor=salinity')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toContain('text/csv')
    expect(r.text.split('\n')[0]).toBe('station,station_name,sensor,unit,time,value,late')
  })

  it('acknowledges an incident; unknown incidents are 404', async () => {
    expect((await f.call('POST', '/api/v1/alerts/incidents/nope/ack', { token: f.tokens.staff, body: {} })).status).toBe(404)
    const created = await f.call('POST', '/api/v1/stations', { token: f.tokens.staff, body: { id: 'cm-ack-01', name: 'Ack', lat: 9, lon: 105 } })
    const c = await mqtt.connectAsync(f.tp.mqttUrl, { username: 'cm-ack-01', password: created.body.credentials.password, reconnectPeriod: 0, protocolVersion: 4 })
    const now = Date.now()
    for (const [i, s] of [5, 5.2].entries()) await c.publishAsync('stations/cm-ack-01/readings', JSON.stringify({ ts: now - 60_000 + i, values: { salinity: s } }), { qos: 1 })
    await c.endAsync()
    f.tp.platform.alerter!.flush()
    const active = await f.call('GET', '/api/v1/alerts/active')
    const incident = active.body.incidents.find((i: { station: string }) => i.station === 'cm-ack-01')
    expect(incident).toBeTruthy()
    const ack = await f.call('POST', `/api/v1/alerts/incidents/${encodeURIComponent(incident.id)}/ack`, { token: f.tokens.staff, body: { note: 'Đã báo xã đóng cống' } })
    expect(ack.status).toBe(200)
    const again = await f.call('GET', '/api/v1/alerts/active')
    expect(again.body.incidents.find((i: { id: string }) => i.id === incident.id).acks[0]).toMatchObject({ actor: 'test-staff', note: 'Đã báo xã đóng cống' })
  })
})

describe('audit log', () => {
  it('records writes with who, what, when, before and after, without secrets', async () => {
    const r = await f.call('GET', '/api/v1/audit?target=station:cm-mgmt-01&limit=50', { token: f.tokens.read })
    const actions = r.body.entries.map((e: { action: string }) => e.action)
    expect(actions).toEqual(expect.arrayContaining(['station.create', 'station.update', 'station.calibrate', 'station.rotate']))
    const update = r.body.entries.find((e: { action: string }) => e.action === 'station.update')
    expect(update).toMatchObject({ actor: 'test-staff', role: 'staff', before: { name: 'Vàm Đầm Dơi', enabled: true }, after: { name: 'Vàm Đầm Dơi (mới)', enabled: false } })
    expect(JSON.stringify(r.body)).not.toMatch(/scrypt|tw_/)
  })

  it('is append-only', () => {
    expect(() => f.tp.platform.registry.db.prepare('UPDATE audit_log SET actor = ?').run('someone')).toThrow(/append-only/)
    expect(() => f.tp.platform.registry.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/)
  })
})

describe('audit of rules and subscribers', () => {
  it('records subscriber and rule changes with before and after, phone numbers included for staff', async () => {
    const sub = await f.call('POST', '/api/v1/alerts/subscribers', { token: f.tokens.staff, body: { phone: '+84911222333', name: 'Cô Hai', stations: ['cm-mgmt-01'] } })
    expect(sub.status).toBe(200)
    await f.call('PATCH', `/api/v1/alerts/subscribers/${sub.body.id}`, { token: f.tokens.staff, body: { lang: 'en' } })
    const rule = { levels: [{ name: 'bd1', severity: 'warning', direction: 'above', threshold: 150 }, { name: 'bd3', severity: 'danger', direction: 'above', threshold: 200 }] }
    expect((await f.call('PUT', '/api/v1/alerts/rules/cm-mgmt-01/water_level', { token: f.tokens.staff, body: rule })).status).toBe(200)
    const subLog = await f.call('GET', `/api/v1/audit?target=subscriber:${sub.body.id}`, { token: f.tokens.read })
    expect(subLog.body.entries.map((e: { action: string }) => e.action)).toEqual(['subscriber.update', 'subscriber.create'])
    expect(subLog.body.entries[0]).toMatchObject({ before: { lang: 'vi' }, after: { lang: 'en' } })
    const ruleLog = await f.call('GET', '/api/v1/audit?target=rule:cm-mgmt-01/water_level', { token: f.tokens.read })
    expect(ruleLog.body.entries[0]).toMatchObject({ action: 'rule.set', actor: 'test-staff', after: { levels: [{ name: 'bd1' }, { name: 'bd3' }] } })
  })
})
