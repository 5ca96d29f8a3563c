/**
 * Console pieces without a browser: session lifetimes (fake clock), the CSRF
 * check, the cookie's attributes, Excel's CSV and the preview's replay.
 */
import { describe, expect, it } from 'vitest'
import { parseCsv, numberOf } from '../../api/console/forms.ts'
import { countAlerts } from '../../api/console/preview.ts'
import { changes } from '../../api/console/pages/audit.ts'
import { csrfMatches, readCookie, sessionCookie, Sessions } from '../../api/console/sessions.ts'
import { SensorRuleSchema } from '../../levels/rules.ts'
import Database from 'better-sqlite3'
import { StaffAccounts } from '../../api/console/accounts.ts'
import { SignInThrottle } from '../../api/console/throttle.ts'

describe('sessions', () => {
  const setup = () => {
    let now = 1_000_000
    const ended: string[] = []
    const sessions = new Sessions({ idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000, max: 3, clock: () => now, onEnd: (s) => ended.push(s.principal.name) })
    return { sessions, ended, advance: (ms: number) => (now += ms) }
  }
  const who = (name: string) => ({ name, role: 'staff' as const, kind: 'account' as const })

  it('expires after 30 idle minutes, and is kept alive by use', () => {
    const { sessions, ended, advance } = setup()
    const { cookie } = sessions.create(who('a'), 'tok', 1)
    advance(29 * 60_000)
    expect(sessions.get(cookie)).toBeDefined()
    advance(29 * 60_000)
    expect(sessions.get(cookie)).toBeDefined()
    advance(31 * 60_000)
    expect(sessions.get(cookie)).toBeUndefined()
    expect(ended).toEqual(['a'])
  })

  it('expires 12 h after sign-in however busy', () => {
    const { sessions, advance } = setup()
    const { cookie } = sessions.create(who('a'), 'tok', null)
    for (let i = 0; i < 12 * 4; i++) {
      advance(15 * 60_000)
      sessions.get(cookie)
    }
    advance(60_000)
    expect(sessions.get(cookie)).toBeUndefined()
  })

  it('is bounded: past max sessions the oldest ends (and its token is revoked by onEnd)', () => {
    const { sessions, ended } = setup()
    const first = sessions.create(who('a'), 't', 1).cookie
    sessions.create(who('b'), 't', 2)
    sessions.create(who('c'), 't', 3)
    sessions.create(who('d'), 't', 4)
    expect(sessions.size()).toBe(3)
    expect(sessions.get(first)).toBeUndefined()
    expect(ended).toEqual(['a'])
  })

  it('checks the CSRF token of its own session only', () => {
    const { sessions } = setup()
    const a = sessions.create(who('a'), 't', null).session
    const b = sessions.create(who('b'), 't', null).session
    expect(csrfMatches(a, a.csrf)).toBe(true)
    expect(csrfMatches(a, b.csrf)).toBe(false)
    expect(csrfMatches(a, '')).toBe(false)
    expect(csrfMatches(a, null)).toBe(false)
  })

  it('sets HttpOnly, SameSite=Strict, path /console, and Secure only behind TLS', () => {
    expect(sessionCookie('v', false)).toBe('tw_console=v; Path=/console; HttpOnly; SameSite=Strict')
    expect(sessionCookie('v', true)).toContain('; Secure')
    expect(readCookie('a=1; tw_console=xyz; b=2')).toBe('xyz')
  })
})

describe('CSV as Excel writes it in Viet Nam', () => {
  it('reads ";" separators, a BOM, CRLF, quoted fields and decimal commas', () => {
    const rows = parseCsv('\uFEFFid;name;lat\r\ncm-01;"Kênh ""Xáng""; Cà Mau";9,18\r\n\r\ncm-02;Năm Căn;8.76\r\n')
    expect(rows).toEqual([
      { id: 'cm-01', name: 'Kênh "Xáng"; Cà Mau', lat: '9,18' },
      { id: 'cm-02', name: 'Năm Căn', lat: '8.76' },
    ])
    expect(numberOf(rows[0]!.lat)).toBe(9.18)
    expect(numberOf('abc')).toBe('abc')
    expect(numberOf('')).toBeUndefined()
  })

  it('refuses a comma-separated file with CSV_INVALID', () => {
    expect(() => parseCsv('id,name,lat\ncm-01,x,9')).toThrow(expect.objectContaining({ code: 'CSV_INVALID' }))
  })
})

describe('levels preview replay', () => {
  const rule = SensorRuleSchema.parse({
    levels: [
      { name: 'warning', severity: 'warning', direction: 'above', threshold: 4, clear: 3 },
      { name: 'danger', severity: 'danger', direction: 'above', threshold: 8, clear: 6 },
    ],
  })
  it('counts fired and escalated levels, with hysteresis', () => {
    // 4.5 fires; 3.5 is above clear (3): still warning, so 4.2 raises nothing; 9 escalates; 1 clears; 5 fires again.
    expect(countAlerts(rule, [1, 4.5, 3.5, 4.2, 9, 7, 1, 5])).toBe(3)
    expect(countAlerts({ ...rule, enabled: false }, [9])).toBe(0)
  })
})

describe('audit changes', () => {
  it('names the leaf that changed inside arrays and objects', () => {
    const before = { sensors: [{ kind: 'ph', calibration: { offset: 0, scale: 10 } }] }
    const after = { sensors: [{ kind: 'ph', calibration: { offset: 0, scale: 1 } }] }
    expect(changes(before, after)).toEqual(['sensors.0.calibration.scale: 10 → 1'])
  })
})

describe('staff accounts', () => {
  it('verifies scrypt passwords, refuses unknown, wrong, disabled and duplicate (case-insensitive) accounts', async () => {
    const accounts = new StaffAccounts(new Database(':memory:'))
    const a = await accounts.add('Le.Van.C', 'staff', 'mat-khau-dai-1')
    expect(a.username).toBe('le.van.c')
    expect((accounts as unknown as { db: Database.Database }).db.prepare('SELECT hash FROM console_accounts').pluck().get()).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect((await accounts.verify('LE.VAN.C', 'mat-khau-dai-1'))?.role).toBe('staff')
    expect(await accounts.verify('le.van.c', 'sai')).toBeUndefined()
    expect(await accounts.verify('khong.co', 'mat-khau-dai-1')).toBeUndefined()
    await expect(accounts.add('le.van.c', 'read', 'another-password')).rejects.toMatchObject({ code: 'STAFF_ACCOUNT_EXISTS' })
    await expect(accounts.add('x y', 'read', 'short')).rejects.toMatchObject({ code: 'STAFF_ACCOUNT_INVALID' })
    await expect(accounts.add('ok.name', 'root', 'long-enough-pw')).rejects.toMatchObject({ code: 'STAFF_ACCOUNT_INVALID' })
    accounts.setDisabled('le.van.c', true)
    expect(await accounts.verify('le.van.c', 'mat-khau-dai-1')).toBeUndefined()
  })
})

describe('sign-in throttle', () => {
  it('blocks a username after 10 failures in 15 min and an address after 50, and forgets after the window', () => {
    let now = 0
    const t = new SignInThrottle({ windowMs: 15 * 60_000, maxPerUser: 10, maxPerAddress: 50, maxKeys: 100, clock: () => now })
    for (let i = 0; i < 10; i++) t.fail('an', '10.0.0.1')
    expect(t.blocked('an', '10.0.0.2')).toBe(true)
    expect(t.blocked('binh', '10.0.0.1')).toBe(false)
    for (let i = 0; i < 40; i++) t.fail(`u${i}`, '10.0.0.1')
    expect(t.blocked('binh', '10.0.0.1')).toBe(true)
    now += 15 * 60_000 + 1
    expect(t.blocked('an', '10.0.0.1')).toBe(false)
  })
})

describe('API field messages in Vietnamese', () => {
  it('says the common zod messages in Vietnamese and keeps the rest', async () => {
    const { explainError } = await import('../../api/console/messages.ts')
    const e = explainError({ error: { code: 'BAD_REQUEST', message: 'x', details: { issues: [{ parameter: 'lat', message: 'Invalid input: expected number, received undefined' }, { parameter: 'lon', message: 'Invalid input: expected number, received string' }, { key: 'levels.0.clear', reason: 'clear must be on the safe side of threshold' }, { parameter: 'x', message: 'something new' }] } } })
    expect(e.issues.map((i) => i.message)).toEqual(['chưa nhập', 'phải là số', 'mức gỡ phải ở phía an toàn của ngưỡng', 'something new'])
    expect(e.text).toContain('Dữ liệu chưa hợp lệ')
  })
})

describe('sign-in next', () => {
  it('returns only to console pages of this site', async () => {
    const { safeNext } = await import('../../api/console/routes.ts')
    expect(safeNext('/console/farmers?q=1')).toBe('/console/farmers?q=1')
    for (const bad of ['//evil.example/console/x', '/console//evil', 'https://evil.example', '/console/sign-out', '/\\evil', '/console/\\evil', '', undefined]) expect(safeNext(bad)).toBe('/console/stations')
  })
})
