
/**
 * Security events for the province's monitoring service (layer 2 of its
 * security model, docs/SECURITY.md): one pino line per event with a stable
 * `event` field that a collector can match without parsing the message.
 * The names below are an interface; never rename one, add a new one.
 */
export type SecurityEventName =
  | 'mqtt.auth.failed'
  | 'mqtt.auth.throttled'
  | 'mqtt.lockout'
  | 'mqtt.acl.denied'
  | 'mqtt.clientid.refused'
  | 'mqtt.retained.refused'
  | 'mqtt.cert.refused'
  | 'mqtt.cert.revoked'
  | 'mqtt.session.revoked'
  | 'api.token.refused'

export interface SecurityLog {
  /** Logs the event at warn level unless its name is over its budget for the current window. */
  event(name: SecurityEventName, fields: Record<string, unknown>, msg: string): void
  /** Logs what was suppressed and not yet reported; called on close. */
  flush(): void
}

export interface SecurityLogOptions {
  /** Lines per event name per window; the rest are counted (default 50). */
  maxPerWindow?: number
  windowMs?: number
  clock?: () => number
}

/**
 * A CONNECT flood is thousands of events a second; logging each would move
 * the denial of service from the broker to the log pipeline. Each event name
 * gets a budget per window (fixed window, counted per name so a flood of
 * failed logins cannot hide an ACL denial). What goes over is counted and
 * reported once per window as `{ event, suppressed, windowSec }`.
 */
/** Any pino-like logger (the root logger, a child, fastify's). */
export interface WarnLogger {
  warn(obj: object, msg: string): void
}

export function createSecurityLog(log: WarnLogger, opts: SecurityLogOptions = {}): SecurityLog {
  const max = opts.maxPerWindow ?? 50
  const windowMs = opts.windowMs ?? 10_000
  const clock = opts.clock ?? Date.now
  const windows = new Map<SecurityEventName, { start: number; logged: number; suppressed: number }>()
  let timer: NodeJS.Timeout | undefined

  const report = (name: SecurityEventName, w: { suppressed: number }): void => {
    if (w.suppressed === 0) return
    log.warn({ event: name, suppressed: w.suppressed, windowSec: windowMs / 1000 }, 'security events suppressed (rate limit)')
    w.suppressed = 0
  }
  // Without a timer the count of the last window of a flood would only be
  // reported by the next event, which may never come.
  const ensureTimer = (): void => {
    if (timer) return
    timer = setInterval(() => {
      const now = clock()
      let pending = false
      for (const [name, w] of windows) {
        if (now - w.start >= windowMs) {
          report(name, w)
          windows.delete(name)
        } else if (w.suppressed > 0) pending = true
      }
      if (!pending && windows.size === 0) {
        clearInterval(timer)
        timer = undefined
      }
    }, windowMs)
    timer.unref()
  }

  return {
    event(name, fields, msg) {
      const now = clock()
      let w = windows.get(name)
      if (!w || now - w.start >= windowMs) {
        if (w) report(name, w)
        w = { start: now, logged: 0, suppressed: 0 }
        windows.set(name, w)
      }
      if (w.logged < max) {
        w.logged++
        log.warn({ event: name, ...fields }, msg)
        return
      }
      w.suppressed++
      ensureTimer()
    },
    flush() {
      for (const [name, w] of windows) report(name, w)
      windows.clear()
      if (timer) clearInterval(timer)
      timer = undefined
    },
  }
}
