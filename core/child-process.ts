import type { ChildProcess } from 'node:child_process'

/**
 * Sends `signal` to a child process and waits until it has exited, with
 * SIGKILL after `graceMs` if it is still there. Resolves at once when the
 * child has already exited. The engines run as children (influxd, and in the
 * local cluster postgres, haproxy and nats-server) are all stopped this way:
 * each picks its own polite signal, and none may hang a shutdown.
 */
export function stopChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
    proc.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    proc.kill(signal)
  })
}
