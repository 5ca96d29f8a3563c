import { readFileSync } from 'node:fs'
import mqtt, { type MqttClient } from 'mqtt'
import type { Logger } from '../../core/log.ts'
import { topics } from '../../core/protocol.ts'

/**
 * Consumes station readings from any MQTT 3.1.1 broker (the standalone
 * tidewatch broker, Debian's mosquitto, ...). A persistent session (clean:
 * false, fixed client id, QoS 1) makes the broker keep messages while the
 * ingest is down, and `handleMessage` sends our PUBACK only after the
 * handler resolved, i.e. after the reading is in the spool.
 */
export interface MqttSourceOptions {
  url: string
  username: string
  password: string
  clientId?: string
  caFile?: string
  log: Logger
  handler: (topic: string, payload: Buffer) => Promise<unknown>
  /** The ingest's feedback publisher (ingest/feedback.ts): published through this client. */
  feedback?: { attach(publish: (topic: string, payload: Buffer) => Promise<void>): () => void }
}

export interface MqttSource {
  client: MqttClient
  /** Resolves once connected and subscribed. */
  ready: Promise<void>
  stop(): Promise<void>
}

export function startMqttSource(opts: MqttSourceOptions): MqttSource {
  const client = mqtt.connect(opts.url, {
    clientId: opts.clientId ?? 'tidewatch-ingest',
    clean: false,
    username: opts.username,
    password: opts.password,
    protocolVersion: 4,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    ...(opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
  })
  client.handleMessage = (packet, done) => {
    opts.handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)).then(
      () => done(),
      (err: unknown) => {
        // The spool could not write: do not acknowledge. Dropping the
        // connection makes the broker redeliver the message later.
        opts.log.error({ err }, 'ingest failed to persist a message; reconnecting without PUBACK')
        client.end(true, () => client.reconnect())
      },
    )
  }
  const ready = new Promise<void>((resolve) => {
    client.on('connect', (connack) => {
      opts.log.info({ url: opts.url, sessionPresent: connack.sessionPresent }, 'ingest connected to broker')
      // Re-subscribing is harmless with a present session and needed without one.
      client.subscribe([topics.allReadings], { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) opts.log.error({ err, granted }, 'ingest subscription refused')
        else resolve()
      })
    })
  })
  // Feedback goes out only while connected: MQTT.js would otherwise queue it
  // in memory without a bound. The broker must allow the ingest's account to
  // publish to stations/+/feedback (docs/PROTOCOL.md); the tidewatch broker
  // does, and a denial there would cost this connection.
  const detachFeedback = opts.feedback?.attach((topic, payload) =>
    client.connected ? client.publishAsync(topic, payload, { qos: 1, retain: false }).then(() => undefined) : Promise.reject(new Error('ingest not connected to the broker')),
  )
  client.on('error', (err) => opts.log.warn({ err: err.message }, 'ingest MQTT error'))
  client.on('offline', () => opts.log.warn('ingest disconnected from broker; retrying'))
  return {
    client,
    ready,
    stop: () => {
      detachFeedback?.()
      return new Promise<void>((resolve) => client.end(false, {}, () => resolve()))
    },
  }
}
