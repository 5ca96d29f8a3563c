import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { countWrite, startApiFixture, type ApiFixture } from './fixture.ts'

/**
 * Zones, SMS codes and BĐ alarm levels through the CLI and the API of a
 * running platform (real influxd, broker, ingest, alerter, API): what staff
 * set is what the alerter resolves.
 */
describe('zones, SMS codes and alarm levels through the CLI and the API', () => {
  let f: ApiFixture
  beforeAll(async () => {
    f = await startApiFixture()
  })
  afterAll(async () => {
    await f?.stop()
  })

  const inForce = async (id: string) => (await f.call('GET', `/api/v1/alerts/rules/${id}`)).body.inForce

  it('devices add --zone --code --bd, then devices set', async () => {
    const add = await f.cli(['devices', 'add', 'cm-sd-09', '--name', 'Sông Đốc 9', '--lat', '9.04', '--lon', '104.83', '--zone', 'brackish_aquaculture', '--code', 'sd09', '--bd', '75,85,95', '--json'])
    expect(add.code).toBe(0)
    const station = (await f.call('GET', '/api/v1/stations/cm-sd-09')).body
    expect(station).toMatchObject({ zone: 'brackish_aquaculture', code: 'SD09' })
    const rules = await inForce('cm-sd-09')
    expect(rules.salinity).toMatchObject({ source: 'zone_default', zone: 'brackish_aquaculture' })
    expect(rules.water_level.source).toBe('station')
    expect(rules.water_level.rule.levels.map((l: { name: string; threshold: number }) => `${l.name}=${l.threshold}`)).toEqual(['bd1=75', 'bd2=85', 'bd3=95'])

    expect((await f.cli(['devices', 'set', 'cm-sd-09', '--zone', 'rice'])).code).toBe(0)
    expect((await inForce('cm-sd-09')).salinity.rule.levels[0]).toMatchObject({ direction: 'above', threshold: 2 })
  })

  it('refuses a bad zone, code or BĐ list with a stable code and registers nothing', async () => {
    const zone = await f.cli(['devices', 'add', 'cm-bad-01', '--name', 'x', '--lat', '9', '--lon', '105', '--zone', 'mangrove'])
    expect(zone.code).not.toBe(0)
    expect(zone.err).toMatch(/STATION_ZONE_INVALID|--zone must be one of rice, rice_shrimp/)
    const code = await f.cli(['devices', 'add', 'cm-bad-01', '--name', 'x', '--lat', '9', '--lon', '105', '--code', 'S-1'])
    expect(code.err).toMatch(/--code must be 2–4 letters/)
    const bd = await f.cli(['devices', 'add', 'cm-bad-01', '--name', 'x', '--lat', '9', '--lon', '105', '--bd', '95,85,75'])
    expect(bd.err).toMatch(/BĐ1 < BĐ2 < BĐ3/)
    expect((await f.call('GET', '/api/v1/stations/cm-bad-01')).status).toBe(404)
  })

  it('devices import reads zone, code and bd1..bd3 columns, and refuses a taken code before registering any row', async () => {
    const file = join(f.tmp.dir, 'stations.csv')
    writeFileSync(file, 'id,name,lat,lon,zone,code,bd1,bd2,bd3\ncm-imp-01,Năm Căn,8.76,104.99,brackish_aquaculture,NC09,140,150,160\ncm-imp-02,Cấp nước,9.18,105.15,water_supply,,,,\n')
    const ok = await f.cli(['devices', 'import', file, '--json'])
    expect(ok.code).toBe(0)
    countWrite() // two stations imported: two audit records
    countWrite()
    expect((await f.call('GET', '/api/v1/stations/cm-imp-02')).body.zone).toBe('water_supply')
    expect((await inForce('cm-imp-01')).water_level.rule.levels[2].threshold).toBe(160)
    expect((await inForce('cm-imp-02')).salinity.rule.levels.at(-1).threshold).toBe(0.45)

    writeFileSync(file, 'id,name,lat,lon,zone,code\ncm-imp-03,A,9,105,rice,NC09\n')
    const taken = await f.cli(['devices', 'import', file])
    expect(taken.code).not.toBe(0)
    expect(taken.err).toMatch(/SMS code "NC09" is already taken/)
    writeFileSync(file, 'id,name,lat,lon,zone\ncm-imp-04,A,9,105,rice\ncm-imp-05,B,9,105,shrimp\n')
    const bad = await f.cli(['devices', 'import', file])
    expect(bad.err).toMatch(/:3: .*zone/)
    expect((await f.call('GET', '/api/v1/stations/cm-imp-04')).status).toBe(404)
  })

  it('POST and PATCH /stations take zone, code and alarmLevels; errors have stable codes', async () => {
    const created = await f.call('POST', '/api/v1/stations', {
      token: f.tokens.staff,
      body: { id: 'cm-api-01', name: 'Gành Hào', lat: 9.03, lon: 105.42, zone: 'brackish_aquaculture', code: 'gh01', alarmLevels: { bd1: 180, bd2: 200, bd3: 220 } },
    })
    expect(created.status).toBe(201)
    expect(created.body.station).toMatchObject({ zone: 'brackish_aquaculture', code: 'GH01' })
    expect((await inForce('cm-api-01')).water_level.rule.levels[0].threshold).toBe(180)

    const patched = await f.call('PATCH', '/api/v1/stations/cm-api-01', { token: f.tokens.staff, body: { zone: 'monitoring', alarmLevels: null } })
    expect(patched.status).toBe(200)
    expect(patched.body.zone).toBe('monitoring')
    expect((await inForce('cm-api-01')).water_level.source).not.toBe('station')

    const badZone = await f.call('PATCH', '/api/v1/stations/cm-api-01', { token: f.tokens.staff, body: { zone: 'mangrove' } })
    expect(badZone.status).toBe(400)
    expect(badZone.body.error.code).toBe('BAD_REQUEST')
    const taken = await f.call('PATCH', '/api/v1/stations/cm-api-01', { token: f.tokens.staff, body: { code: 'SD09' } })
    expect(taken.status).toBe(409)
    expect(taken.body.error.code).toBe('STATION_CODE_TAKEN')
    const badLevels = await f.call('PATCH', '/api/v1/stations/cm-api-01', { token: f.tokens.staff, body: { alarmLevels: { bd1: 3, bd2: 2, bd3: 1 } } })
    expect(badLevels.status).toBe(400)

    // A zone rule through the rules API applies to every station of the zone without an override.
    const zoneRule = await f.call('PUT', '/api/v1/alerts/rules/zone:water_supply/salinity', {
      token: f.tokens.staff,
      body: { levels: [{ name: 'danger', severity: 'danger', direction: 'above', threshold: 0.5 }] },
    })
    expect(zoneRule.status).toBe(200)
    expect((await inForce('cm-imp-02')).salinity).toMatchObject({ source: 'zone', rule: { levels: [{ threshold: 0.5 }] } })
    expect((await f.call('PUT', '/api/v1/alerts/rules/zone:mangrove/salinity', { token: f.tokens.staff, body: { levels: [] } })).body.error.code).toBe('ALERT_RULE_INVALID')
  })
})
