import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort } from '../../core/free-port.ts'

/** Debian's mosquitto on an ephemeral loopback port: the "any MQTT 3.1.1 broker" of the tests. */
export interface TestMosquitto {
  port: number
  url: string
  stop(): Promise<void>
}

export async function startMosquitto(dir: string, extraConfig = ''): Promise<TestMosquitto> {
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  // The defaults (max_queued_messages 1000, max_inflight_messages 20) drop
  // QoS 1 messages to a slow subscriber; a tidewatch deployment raises them.
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n${extraConfig}`)
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p)) ?? 'mosquitto'
  const child: ChildProcess = spawn(binary, ['-c', conf], { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)))
      s.on('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
