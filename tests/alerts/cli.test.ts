import { describe, expect, it } from 'vitest'
import { Registry } from '../../devices/registry.ts'
import { alertsCommand } from '../../cli/commands/alerts.ts'

describe('tidewatch alerts CLI', () => {
  it('manages rules and subscribers', async () => {
    const registry = Registry.open(':memory:')
    await registry.add({ id: 'CM01', name: 'Trạm 1', lat: 9, lon: 105 })
    let text = ''
    const deps = { registry, stdout: (s: string) => void (text += s) }
    expect(await alertsCommand(['rules', 'set', 'CM01', 'water_level', '{"levels":[{"name":"bd1","severity":"warning","direction":"above","threshold":110}]}'], deps)).toBe(0)
    text = ''
    expect(await alertsCommand(['rules', 'CM01'], deps)).toBe(0)
    expect(JSON.parse(text).overrides.water_level.levels[0].threshold).toBe(110)
    text = ''
    expect(await alertsCommand(['subscribers', 'add', '--phone', '0901234567', '--station', 'CM01', '--diacritics'], deps)).toBe(0)
    expect(JSON.parse(text)).toMatchObject({ phone: '+84901234567', stations: ['CM01'], diacritics: true })
    await expect(alertsCommand(['subscribers', 'add', '--phone', 'x'], deps)).rejects.toMatchObject({ code: 'SUBSCRIBER_INVALID' })
    await expect(alertsCommand(['nope'], deps)).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    registry.close()
  })
})
