/**
 * Cluster edges end live sessions too (broker/session-guard.ts), nothing
 * faked: a real PostgreSQL 15 (the shared metadata), the edge's
 * MetadataReplica following its change feed (cluster/metadata/open.ts, as
 * `tidewatch edge` opens it), a one-node NATS JetStream for the readings log,
 * and MQTT.js stations. A station disabled, rotated or deleted in PostgreSQL
 * (as the CLI or another API node does it) loses its session on the edge;
 * the other station keeps its own.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { loadConfig } from '../../core/config.ts'
import { capturedLogger, eventually, tempDir } from '../helpers/platform.ts'
import { freshDatabase, startLocalPostgres, type LocalPostgres } from '../helpers/postgres.ts'
import { startNatsCluster, type NatsCluster } from '../../cluster/local/nats.ts'
import { openNodeStations, type NodeStations } from '../../cluster/metadata/open.ts'
import { startEdge, type EdgeHandle } from '../../cluster/edge.ts'
import { Registry } from '../../devices/registry.ts'

const tmp = tempDir('tidewatch-edge-revoke-')
const captured = capturedLogger()
let server: LocalPostgres
let nats: NatsCluster
let node: NodeStations
let edge: EdgeHandle
const secrets: Record<string, string> = {}
const clients: MqttClient[] = []
const WAIT_MS = 15_000

beforeAll(async () => {
  ;[server, nats] = await Promise.all([startLocalPostgres(), startNatsCluster({ dir: join(tmp.dir, 'nats'), nodes: 1 })])
  const url = await freshDatabase(server)
  const config = loadConfig({
    env: {
      TIDEWATCH_DATA_DIR: join(tmp.dir, 'edge'),
      TIDEWATCH_BIND_HOST: '127.0.0.1',
      TIDEWATCH_MQTT_PORT: '0',
      TIDEWATCH_MQTT_PERSISTENCE: 'memory',
      TIDEWATCH_NATS_SERVERS: nats.servers.join(','),
      TIDEWATCH_NATS_REPLICAS: '1',
      TIDEWATCH_NODE_ID: 'edge-revoke',
      TIDEWATCH_POSTGRES_URL: url,
    },
  })
  node = await openNodeStations({ postgres: config.cluster.postgres, registry: () => Registry.open(join(tmp.dir, 'unused.db')), log: captured.log })
  for (const id of ['cm-edge-a', 'cm-edge-b', 'cm-edge-c']) secrets[id] = (await node.repo!.addStation({ id, name: id, lat: 9, lon: 105 })).password
  // The replica follows the change feed: wait until it knows every station.
  expect(await eventually(() => Object.keys(secrets).every((id) => node.stations.credentials(id) !== undefined), WAIT_MS)).toBe(true)
  edge = await startEdge({ config, stations: node.stations, log: captured.log })
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.end(true)
  await edge?.stop()
  await node?.close()
  await Promise.allSettled([server?.stop(), nats?.stop()])
  tmp.cleanup()
})

async function connect(id: string, password = secrets[id]): Promise<{ client: MqttClient; state: { closed: boolean } }> {
  const client = await mqtt.connectAsync(edge.mqttUrl, { username: id, password, clientId: `station-${id}`, protocolVersion: 4, reconnectPeriod: 0 })
  clients.push(client)
  const state = { closed: false }
  client.on('close', () => (state.closed = true))
  return { client, state }
}
const revokedEvent = (station: string, reason: string) => captured.lines.find((l) => l.event === 'mqtt.session.revoked' && l.station === station && l.reason === reason)

describe('an edge closes sessions its replica no longer entitles', () => {
  it('disable, rotate and delete in PostgreSQL each close only the session they concern', async () => {
    const a = await connect('cm-edge-a')
    const b = await connect('cm-edge-b')
    const c = await connect('cm-edge-c')

    await node.repo!.setEnabled('cm-edge-a', false)
    expect(await eventually(() => a.state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-edge-a', 'station_disabled')).toBeDefined()
    await b.client.publishAsync('stations/cm-edge-b/readings', JSON.stringify({ ts: Date.now() - 1000, values: { salinity: 2 } }), { qos: 1 })
    expect(b.state.closed).toBe(false)

    const fresh = (await node.repo!.rotate('cm-edge-b')).password
    expect(await eventually(() => b.state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-edge-b', 'credentials_rotated')).toBeDefined()
    const renewed = await connect('cm-edge-b', fresh)

    await node.repo!.removeStation('cm-edge-c')
    expect(await eventually(() => c.state.closed, WAIT_MS)).toBe(true)
    expect(revokedEvent('cm-edge-c', 'station_removed')).toBeDefined()

    await renewed.client.publishAsync('stations/cm-edge-b/readings', JSON.stringify({ ts: Date.now() - 500, values: { salinity: 2.1 } }), { qos: 1 })
    expect(renewed.state.closed).toBe(false)
    expect(edge.broker.counters.sessionsRevoked).toMatchObject({ station_disabled: 1, credentials_rotated: 1, station_removed: 1, cert_revoked: 0 })
  })
})
