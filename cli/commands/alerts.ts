import { TidewatchError } from '../../core/errors.ts'
import type { Registry } from '../../devices/registry.ts'
import { migrateAlerts } from '../../alerts/store.ts'
import { RuleBook } from '../../levels/book.ts'
import type { SensorRule } from '../../levels/rules.ts'
import { DEFAULT_RULES } from '../../levels/zones.ts'
import { Subscribers, type Subscriber, type SubscriberInput } from '../../alerts/subscribers.ts'
import type { MetadataRepository } from '../../cluster/metadata/repository.ts'
import { parse, subcommandOf } from '../args.ts'
import { clusterAuditOf } from './devices.ts'

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
 * In cluster mode (cluster.postgres.url; cli/main.ts hands a repository) it
 * works on PostgreSQL, which holds the rules and subscribers every node
 * follows: a node's own SQLite copy is its mirror's, never written here.
 */
/**
 * Each subcommand's usage, printed by `tidewatch alerts <subcommand> --help`
 * (args.ts usageFor: `alerts rules --help` prints the three rules entries).
 */
export const SUBCOMMANDS = {
  rules: `  tidewatch alerts rules [station]                         default rules, or a station's overrides`,
  'rules set': `  tidewatch alerts rules set <default|station> <sensor> <json>
      stores a rule (JSON, docs/ALERTS.md) for every station, or one station's override`,
  'rules rm': `  tidewatch alerts rules rm <default|station> <sensor>
      removes a stored rule; what it overrode (zone, default, built-in) applies again`,
  subscribers: `  tidewatch alerts subscribers                             list`,
  'subscribers add': `  tidewatch alerts subscribers add --phone P [--name N] [--station ID]... [--commune C]...
                                   [--lang vi|en] [--diacritics] [--staff] [--email E] [--webhook URL]
      a farmer, alerted by SMS about the stations and communes given; with --staff a staff
      member, alerted about every station by SMS, --email or --webhook`,
  'subscribers rm': `  tidewatch alerts subscribers rm <id>`,
}

export const USAGE = `Usage:\n${Object.values(SUBCOMMANDS).join('\n')}\nSee docs/ALERTS.md.`

/** A usage error: one line, pointing at the help. */
function usage(what: string): TidewatchError {
  return new TidewatchError('BAD_REQUEST', {}, `alerts: ${what}`)
}

/** What the command reads and writes: the node's SQLite registry, or the cluster's repository. */
interface AlertsStore {
  requireStation(id: string): Promise<void>
  defaults(): Promise<Record<string, SensorRule>>
  overrides(scope: string): Promise<Record<string, SensorRule>>
  setRule(scope: string, sensor: string, input: unknown, now: number): Promise<SensorRule>
  removeRule(scope: string, sensor: string): Promise<boolean>
  subscribers(): Promise<Subscriber[]>
  addSubscriber(input: SubscriberInput, now: number): Promise<Subscriber>
  removeSubscriber(id: number): Promise<void>
  /**
   * Audits a change, with the API's action names (api/routes/alerts.ts). Cluster mode: the cluster's
   * PostgreSQL log (the operator source's sink, as devices/tokens/staff). Undefined on the node's SQLite:
   * the single-process command has never audited and does not start here.
   */
  record?: (entry: { action: string; target: string; before?: unknown; after?: unknown }) => Promise<void>
}

function localStore(registry: Registry): AlertsStore {
  migrateAlerts(registry.db)
  const rules = new RuleBook(registry.db, registry)
  const subs = new Subscribers(registry.db)
  return {
    requireStation: async (id) => void registry.require(id),
    defaults: async () => rules.defaults(),
    overrides: async (scope) => rules.overrides(scope),
    setRule: async (scope, sensor, input, now) => rules.set(scope, sensor, input, now),
    removeRule: async (scope, sensor) => rules.remove(scope, sensor),
    subscribers: async () => subs.list(),
    addSubscriber: async (input, now) => subs.create(input, now),
    removeSubscriber: async (id) => subs.remove(id),
  }
}

function clusterStore(repo: MetadataRepository): AlertsStore {
  return {
    requireStation: async (id) => {
      if (!(await repo.getStation(id))) throw new TidewatchError('STATION_NOT_FOUND', { id }, `Station "${id}" not found`)
    },
    // As levels/book.ts defaults(): stored rules of scope 'default' over the generic built-ins.
    defaults: async () => ({ ...(DEFAULT_RULES as Record<string, SensorRule>), ...(await repo.rules('default')) }),
    overrides: (scope) => repo.rules(scope),
    setRule: (scope, sensor, input, now) => repo.setRule(scope, sensor, input, now),
    removeRule: (scope, sensor) => repo.deleteRule(scope, sensor),
    subscribers: () => repo.listSubscribers(),
    addSubscriber: (input, now) => repo.createSubscriber(input, now),
    removeSubscriber: (id) => repo.removeSubscriber(id),
    record: clusterAuditOf(repo),
  }
}

export async function alertsCommand(
  argv: string[],
  deps: { registry?: Registry; repo?: MetadataRepository; config?: unknown; stdout: (s: string) => void; clock?: () => number },
): Promise<number> {
  const out = (v: unknown): void => deps.stdout(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`)
  const now = (deps.clock ?? Date.now)()
  const [group, afterGroup] = subcommandOf(argv)
  if (group === undefined) {
    out(USAGE)
    return 0
  }
  // Only `subscribers add` takes flags; everywhere else every word is an argument, and a flag
  // (`rules --bogus`) is refused as unknown by parse, never taken for a station id or a scope.
  const takesFlags = group === 'subscribers' && afterGroup[0] === 'add'
  const [action, ...rest] = takesFlags ? afterGroup : parse(afterGroup, {}).positionals
  const store = deps.repo ? clusterStore(deps.repo) : deps.registry ? localStore(deps.registry) : undefined
  if (!store) throw new TidewatchError('BAD_REQUEST', {}, 'alerts: no registry or repository to work on')
  if (group === 'rules') {
    if (action === 'set' && rest.length === 3) {
      const [scope, sensor] = [rest[0]!, rest[1]!]
      if (scope !== 'default') await store.requireStation(scope)
      const before = store.record ? (await store.overrides(scope))[sensor] : undefined
      const after = await store.setRule(scope, sensor, ruleJson(rest[2]!), now)
      out(after)
      await store.record?.({ action: 'rule.set', target: `rule:${scope}/${sensor}`, before, after })
      return 0
    }
    if (action === 'rm' && rest.length === 2) {
      const [scope, sensor] = [rest[0]!, rest[1]!]
      const before = store.record ? (await store.overrides(scope))[sensor] : undefined
      const removed = await store.removeRule(scope, sensor)
      out({ removed })
      if (removed) await store.record?.({ action: 'rule.remove', target: `rule:${scope}/${sensor}`, before })
      return 0
    }
    if (action === undefined) {
      out(await store.defaults())
      return 0
    }
    if (rest.length === 0) {
      await store.requireStation(action)
      out({ station: action, overrides: await store.overrides(action) })
      return 0
    }
  }
  if (group === 'subscribers') {
    if (action === undefined) {
      out(await store.subscribers())
      return 0
    }
    if (action === 'rm' && rest.length === 1) {
      if (!/^\d+$/.test(rest[0]!)) throw usage(`subscribers rm needs a subscriber id (a number), got "${rest[0]}"`)
      const id = Number(rest[0])
      const before = store.record ? (await store.subscribers()).find((x) => x.id === id) : undefined
      await store.removeSubscriber(id)
      out({ removed: id })
      await store.record?.({ action: 'subscriber.delete', target: `subscriber:${id}`, before })
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
      for (const id of values.station ?? []) await store.requireStation(id)
      const created = await store.addSubscriber(
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
      )
      out(created)
      await store.record?.({ action: 'subscriber.create', target: `subscriber:${created.id}`, after: created })
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
