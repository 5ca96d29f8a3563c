import type { Logger } from '../core/log.ts'
import type { Registry, Station } from '../devices/registry.ts'
import type { RuleBook } from '../levels/book.ts'
import type { Transition } from './engine.ts'
import type { Notifier } from './notify.ts'
import { alertEventLine } from './points.ts'

/**
 * What follows a state change: outbox rows for the subscribers (through the
 * Notifier, inside the caller's transaction), alert_event lines for the
 * dashboards, and a log line for anything beyond pending/ok.
 */
export interface DispatchDeps {
  registry: Registry
  rules: RuleBook
  notifier: Notifier
  log: Logger
}

export class TransitionDispatch {
  /** Registry lookups for one drain: a batch names the same stations many times. */
  private readonly stations = new Map<string, Station | undefined>()

  constructor(private readonly deps: DispatchDeps) {}

  /** Starts a new drain: the registry may have changed since the last one. */
  forgetStations(): void {
    this.stations.clear()
  }

  /** A station the caller has just read from the registry. */
  knowStation(station: Station): void {
    this.stations.set(station.id, station)
  }

  /** Notifies and appends alert_event lines to `lines`; returns the outbox rows queued. */
  apply(transitions: readonly Transition[], now: number, lines: string[]): number {
    let queued = 0
    for (const t of transitions) {
      const station = this.stationOf(t.station) ?? ({ id: t.station, name: t.station, commune: null } as Station)
      queued += this.deps.notifier.notify(t, station, now)
      lines.push(alertEventLine(t, `${t.station} ${t.sensor} ${t.level.name} ${t.to}${t.value === null ? '' : ` ${t.value}`}`))
      if (t.to === 'resolved' && t.ladder === 'level') {
        // alert_event is a series per level: after warning -> danger -> resolved
        // the warning series would otherwise stay "firing" on the dashboards.
        for (const level of this.deps.rules.get(t.station, t.sensor)?.levels ?? []) {
          if (level.name !== t.level.name) lines.push(alertEventLine({ ...t, level }, `${t.station} ${t.sensor} ${level.name} resolved`))
        }
      }
      if (t.to !== 'pending' && t.to !== 'ok') this.deps.log.info({ station: t.station, sensor: t.sensor, alertLevel: t.level.name, to: t.to, value: t.value, incident: t.incident }, 'alert state change')
    }
    return queued
  }

  private stationOf(id: string): Station | undefined {
    if (!this.stations.has(id)) this.stations.set(id, this.deps.registry.get(id))
    return this.stations.get(id)
  }
}
