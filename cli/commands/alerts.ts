import { parseArgs } from 'node:util'
import { isTidewatchError } from '../../core/errors.ts'
import type { Registry } from '../../devices/registry.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { RuleBook } from '../../levels/book.ts'
import { Subscribers } from '../../alerts/subscribers.ts'

/**
 * tidewatch alerts <command>
 *   rules [station]                         show defaults, or a station's overrides
 *   rules set <default|station> <sensor> <json>
 *   rules rm <default|station> <sensor>
 *   subscribers                             list
 *   subscribers add --phone P [--name N] [--station ID]... [--commune C]... [--lang vi|en] [--diacritics] [--staff] [--email E] [--webhook URL]
 *   subscribers rm <id>
 * Works on the registry DB directly (WAL: safe while `tidewatch up` runs;
 * the running alerter picks up subscriber changes on its next cache refresh).
 */
const USAGE = `usage: tidewatch alerts rules [station] | rules set <scope> <sensor> <json> | rules rm <scope> <sensor>
       tidewatch alerts subscribers | subscribers add --phone P [--station ID]... [--commune C]... [--lang vi|en] [--diacritics] [--staff] [--email E] [--webhook URL] [--name N] | subscribers rm <id>`

export async function alertsCommand(
  argv: string[],
  deps: { registry: Registry; config?: unknown; stdout: (s: string) => void; clock?: () => number },
): Promise<number> {
  const out = (v: unknown): void => deps.stdout(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`)
  const now = (deps.clock ?? Date.now)()
  migrateAlerts(deps.registry.db)
  const rules = new RuleBook(deps.registry.db, deps.registry)
  const subs = new Subscribers(deps.registry.db)
  const [group, action, ...rest] = argv
  try {
    if (group === 'rules') {
      if (action === 'set' && rest.length === 3) {
        if (rest[0] !== 'default') deps.registry.require(rest[0]!)
        out(rules.set(rest[0]!, rest[1]!, JSON.parse(rest[2]!), now))
        return 0
      }
      if (action === 'rm' && rest.length === 2) {
        out({ removed: rules.remove(rest[0]!, rest[1]!) })
        return 0
      }
      if (action === undefined) {
        out(rules.defaults())
        return 0
      }
      if (rest.length === 0) {
        deps.registry.require(action)
        out({ station: action, overrides: rules.overrides(action) })
        return 0
      }
    }
    if (group === 'subscribers') {
      if (action === undefined) {
        out(subs.list())
        return 0
      }
      if (action === 'rm' && rest.length === 1) {
        subs.remove(Number(rest[0]))
        out({ removed: Number(rest[0]) })
        return 0
      }
      if (action === 'add') {
        const { values } = parseArgs({
          args: rest,
          options: {
            phone: { type: 'string' },
            name: { type: 'string' },
            station: { type: 'string', multiple: true },
            commune: { type: 'string', multiple: true },
            lang: { type: 'string' },
            diacritics: { type: 'boolean' },
            staff: { type: 'boolean' },
            email: { type: 'string' },
            webhook: { type: 'string' },
          },
        })
        for (const id of values.station ?? []) deps.registry.require(id)
        out(
          subs.create(
            {
              kind: values.staff ? 'staff' : 'farmer',
              phone: values.phone,
              name: values.name,
              stations: values.station,
              communes: values.commune,
              lang: values.lang as 'vi' | 'en' | undefined,
              diacritics: values.diacritics ?? false,
              email: values.email,
              webhook: values.webhook,
            },
            now,
          ),
        )
        return 0
      }
    }
    deps.stdout(`${USAGE}\n`)
    return 2
  } catch (err) {
    if (isTidewatchError(err)) {
      out({ error: err.toJSON() })
      return 1
    }
    if (err instanceof SyntaxError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      deps.stdout(`${(err as Error).message}\n${USAGE}\n`)
      return 2
    }
    throw err
  }
}
