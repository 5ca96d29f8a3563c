import type { RuleWriter } from '../../api/routes/alerts.ts'
import type { StationWriter } from '../../api/routes/manage.ts'
import type { Logger } from '../../core/log.ts'
import { alarmLevelsRule } from '../../levels/zones.ts'
import type { RegistryMirror } from './mirror.ts'
import { readBackWriter } from './subscriber-writer.ts'
import type { MetadataRepository } from './repository.ts'

/**
 * Station writes in cluster mode (issue 16: "a disabled station, a rotated
 * secret … takes effect on every node within 1 s"): to PostgreSQL, which the
 * edges authenticate from (MetadataReplica) and every node's RegistryMirror
 * copies, never to this node's SQLite, which the mirror owns and would
 * overwrite. As clusterSubscriberWriter does for subscribers, each write
 * resolves once this node's copy shows it (RegistryMirror.refresh), so the
 * route's answer and a GET right after it on this node read the write.
 *
 * The codes are the repository's, the registry's (STATION_EXISTS,
 * STATION_NOT_FOUND, STATION_CODE_TAKEN, …); PostgreSQL out of reach, or a
 * node whose first copy is not done yet, is POSTGRES_UNAVAILABLE (503).
 */
export interface ClusterStationWriterDeps {
  /** The repository and the mirror once the node follows PostgreSQL; undefined before. */
  following(): { repo: MetadataRepository; mirror: RegistryMirror } | undefined
  log?: Logger
  /** How long a write waits for this node's copy before it answers anyway (as subscriber-writer.ts: twice issue 16's 1 s bar). */
  readBackMs?: number
}

/** The stored rule that holds a station's official alarm levels (levels/zones.ts alarmLevelsRule; api/routes/manage.ts). */
const ALARM_LEVELS_SENSOR = 'water_level'

/** Runs a write on PostgreSQL, then waits (up to readBackMs) for this node's copy of what it changed. */
function postgresWriter(deps: ClusterStationWriterDeps, component: string) {
  const run = readBackWriter(deps, component)
  return <T>(changed: ReadonlyArray<{ kind: 'station' | 'rule'; id: string }>, fn: (repo: MetadataRepository) => Promise<T>): Promise<T> =>
    run(fn, (mirror) => Promise.all(changed.map((c) => mirror.refresh(c))), () => changed)
}

export function clusterStationWriter(deps: ClusterStationWriterDeps): StationWriter {
  const run = postgresWriter(deps, 'station-writer')
  /** The station's copy, and its rules' when its alarm levels changed too. */
  const write = <T>(id: string, rulesToo: boolean, fn: (repo: MetadataRepository) => Promise<T>): Promise<T> =>
    run([{ kind: 'station', id }, ...(rulesToo ? [{ kind: 'rule' as const, id }] : [])], fn)
  const setAlarmLevels = async (repo: MetadataRepository, id: string, levels: Parameters<StationWriter['update']>[2]): Promise<void> => {
    if (levels === undefined) return
    if (levels === null) await repo.deleteRule(id, ALARM_LEVELS_SENSOR)
    else await repo.setRule(id, ALARM_LEVELS_SENSOR, alarmLevelsRule(levels))
  }
  return {
    add: (input, alarmLevels) =>
      write(input.id, alarmLevels !== undefined, async (repo) => {
        const creds = await repo.addStation(input)
        await setAlarmLevels(repo, input.id, alarmLevels)
        return creds
      }),
    update: (id, patch, alarmLevels) =>
      write(id, alarmLevels !== undefined, async (repo) => {
        // An empty patch still checks the station exists (STATION_NOT_FOUND), as Registry.update does.
        await repo.updateStation(id, patch)
        await setAlarmLevels(repo, id, alarmLevels)
      }),
    setCalibration: (id, kind, cal) => write(id, false, (repo) => repo.setCalibration(id, kind, cal)),
    rotate: (id) => write(id, false, (repo) => repo.rotate(id)),
    remove: (id) => write(id, false, (repo) => repo.removeStation(id)),
  }
}

/**
 * The API's stored rule routes (PUT/DELETE /alerts/rules/…) in cluster mode,
 * on a node that runs an alerter (`tidewatch up` with a PostgreSQL URL): to
 * PostgreSQL, as `tidewatch alerts rules` writes, read back into this node's
 * alert_rules (its alerter's rule book follows that table).
 */
export function clusterRuleWriter(deps: ClusterStationWriterDeps): RuleWriter {
  const run = postgresWriter(deps, 'rule-writer')
  return {
    set: (scope, sensor, input, now) => run([{ kind: 'rule', id: scope }], (repo) => repo.setRule(scope, sensor, input, now)),
    remove: (scope, sensor) => run([{ kind: 'rule', id: scope }], (repo) => repo.deleteRule(scope, sensor)),
  }
}
