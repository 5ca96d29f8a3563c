/** Shared test fixtures: a real Aedes broker on an ephemeral port, a real subscriber, polling. */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import { silentLogger } from '../../core/log.ts'

export const log = silentLogger

export interface TestBroker {
  readonly port: number
  readonly url: string
  readonly aedes: Aedes
  close(): Promise<void>
}

/** username = station id, password = secret; plus a `watcher` account for the test subscriber. */
export async function startBroker(secrets: Record<string, string>): Promise<TestBroker> {
  const all: Record<string, string> = { ...secrets, watcher: 'watcher-secret' }
  const aedes = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      const ok = username !== undefined && all[username] !== undefined && password?.toString() === all[username]
      if (ok) done(null, true)
      else {
        const err = Object.assign(new Error('bad credentials'), { returnCode: 4 as const })
        done(err, false)
      }
    },
  })
  const server: Server = createServer(aedes.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    aedes,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export interface Received {
  readonly topic: string
  readonly text: string
  readonly retain: boolean
}

export interface Watcher {
  readonly messages: Received[]
  readonly client: MqttClient
  close(): Promise<void>
}

/** A real MQTT subscriber on `stations/#`. */
export async function watch(url: string, topic = 'stations/#'): Promise<Watcher> {
  const client = await connectAsync(url, { username: 'watcher', password: 'watcher-secret', protocolVersion: 4, reconnectPeriod: 0 })
  const messages: Received[] = []
  client.on('message', (t, payload, packet) => messages.push({ topic: t, text: payload.toString(), retain: packet.retain }))
  await client.subscribeAsync(topic, { qos: 1 })
  return { messages, client, close: () => client.endAsync() }
}

/** Polls until cond() holds; throws with the label after timeoutMs. Never asserts timing. */
export async function waitFor(cond: () => boolean, label: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${label}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export function tempDir(prefix = 'tidewatch-fwsim-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Every reading carried by the readings messages, flattening batches. */
export function readingsOf(messages: readonly Received[], stationId: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const m of messages) {
    if (m.topic !== `stations/${stationId}/readings`) continue
    let parsed: unknown
    try {
      parsed = JSON.parse(m.text)
    } catch {
      continue
    }
    const p = parsed as { readings?: unknown[] }
    if (Array.isArray(p.readings)) out.push(...(p.readings as Array<Record<string, unknown>>))
    else out.push(parsed as Record<string, unknown>)
  }
  return out
}
