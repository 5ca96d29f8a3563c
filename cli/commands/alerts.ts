import { TidewatchError } from '../../core/errors.ts'
import type { Registry } from '../../devices/registry.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { RuleBook } from '../../levels/book.ts'
import { Subscribers } from '../../alerts/subscribers.ts'
import { parse } from '../args.ts'

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
export const USAGE = `Usage:
  tidewatch alerts rules [station]                         default rules, or a station's overrides
  tidewatch alerts rules set <default|station> <sensor> <json>
  tidewatch alerts rules rm <default|station> <sensor>
  tidewatch alerts subscribers                             list
  tidewatch alerts subscribers add --phone P [--name N] [--station ID]... [--commune C]...
                                   [--lang vi|en] [--diacritics] [--staff] [--email E] [--webhook URL]
  tidewatch alerts subscribers rm <id>
See docs/ALERTS.md.`

/** A usage error: one line, pointing at the help. */
function usage(what: string): TidewatchError {
  return new TidewatchError('BAD_REQUEST', {}, `alerts: ${what}`)
}

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
  if (group === undefined) {
    out(USAGE)
    return 0
  }
  if (group === 'rules') {
    if (action === 'set' && rest.length === 3) {
      if (rest[0] !== 'default') deps.registry.require(rest[0]!)
      out(rules.set(rest[0]!, rest[1]!, ruleJson(rest[2]!), now))
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
      if (!/^\d+$/.test(rest[0]!)) throw usage(`subscribers rm needs a subscriber id (a number), got "${rest[0]}"`)
      subs.remove(Number(rest[0]))
      out({ removed: Number(rest[0]) })
      return 0
    }
    if (action === 'add') {
      const { values } = parse(
        rest,
        {
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
        false,
      )
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
  throw usage(group === 'rules' || group === 'subscribers' ? `unknown or incomplete "${argv.join(' ')}"` : `unknown subcommand "${group}"`)
}

function ruleJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new TidewatchError('ALERT_RULE_INVALID', {}, `the rule is not JSON: ${(err as Error).message}`)
  }
}
