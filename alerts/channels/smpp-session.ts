import smpp, { type PDU, type Session } from 'smpp'
import { backoffWindow, equalJitter } from '../../core/backoff.ts'
import type { SmppConfig } from '../../core/alerts-config.ts'
import type { Logger } from '../../core/log.ts'

/**
 * The SMPP 3.4 session to one SMSC: one TCP connection at a time, bound as a
 * transceiver, kept alive with enquire_link and replaced after any failure.
 * - Every request has a response timeout; no answer within responseTimeoutMs
 *   drops the session (SMPP 3.4 §2.9 timers).
 * - Reconnects back off exponentially with equal jitter (core/backoff.ts).
 * - deliver_sm is acknowledged here and handed on (receipts, MO messages).
 */
export type SmppRequest = (command: string, options: Record<string, unknown>) => Promise<PDU | null>

/** SMPP 3.4 §5.2.4: interface_version 0x34 announces an SMPP 3.4 ESME. */
const INTERFACE_VERSION_34 = 0x34

/** SMPP 3.4 §5.1.3: "ESME Receiver Temporary App Error Code". */
const ESME_RX_T_APPN = 0x64

/** One TCP session. Dropped once, never reused: the link opens a fresh one. */
export class SmppConnection {
  private readonly waiters = new Set<(pdu: PDU | null) => void>()
  private enquireTimer: NodeJS.Timeout | null = null
  private ended = false
  bound = false

  constructor(
    private readonly session: Session,
    private readonly config: SmppConfig,
    private readonly log: Logger,
    /** Called once when the session is dropped (not on stop). */
    private readonly onDropped: () => void,
  ) {}

  /** Sends a PDU and waits for its response, or null on timeout or connection loss. */
  request: SmppRequest = (command, options) =>
    new Promise((resolve) => {
      let timer: NodeJS.Timeout
      const waiter = (pdu: PDU | null) => {
        clearTimeout(timer)
        this.waiters.delete(waiter)
        resolve(pdu)
      }
      timer = setTimeout(() => {
        waiter(null)
        // No answer: the session is not trustworthy any more (SMPP 3.4 §2.9 timers).
        this.drop(`${command} response timeout`)
      }, this.config.responseTimeoutMs)
      this.waiters.add(waiter)
      const sent = this.session.send(new smpp.PDU(command, options), (pdu) => waiter(pdu))
      if (!sent) waiter(null)
    })

  /** bind_transceiver; on success enquire_link runs every enquireLinkMs. */
  async bind(): Promise<boolean> {
    const { config } = this
    const resp = await this.request('bind_transceiver', {
      system_id: config.systemId,
      password: config.password,
      system_type: config.systemType,
      interface_version: INTERFACE_VERSION_34,
    })
    if (!resp || resp.command_status !== 0) {
      this.log.error({ code: 'SMPP_BIND_FAILED', status: resp?.command_status }, 'smpp bind_transceiver failed')
      this.drop('bind failed')
      return false
    }
    this.bound = true
    this.log.info({ host: config.host, port: config.port }, 'smpp bound (transceiver)')
    this.enquireTimer = setInterval(() => {
      void this.request('enquire_link', {})
    }, config.enquireLinkMs)
    return true
  }

  /** The session failed or the SMSC ended it: close it and let the link reconnect. */
  drop(why: string): void {
    if (this.ended) return
    this.log.warn({ why }, 'smpp session dropped')
    this.end()
    this.onDropped()
  }

  /** A polite goodbye for stop(): unbind when bound, then close without reconnecting. */
  async close(): Promise<void> {
    if (this.bound) await this.request('unbind', {})
    this.end()
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.bound = false
    if (this.enquireTimer) clearInterval(this.enquireTimer)
    this.enquireTimer = null
    for (const w of [...this.waiters]) w(null)
    this.session.removeAllListeners()
    this.session.on('error', () => {})
    this.session.destroy()
  }
}

/** Keeps one SmppConnection bound while started. */
export class SmppLink {
  private current: SmppConnection | null = null
  private stopped = true
  private attempt = 0
  private bindCount = 0
  private reconnectTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly config: SmppConfig,
    private readonly log: Logger,
    /** A deliver_sm; acknowledged when this settles, refused with ESME_RX_T_APPN when it rejects. */
    private readonly onDeliver: (pdu: PDU) => void | Promise<void>,
  ) {}

  /** The bound session, if there is one. */
  session(): SmppConnection | null {
    return this.current?.bound ? this.current : null
  }

  ready(): boolean {
    return this.current?.bound ?? false
  }

  /** Successful binds so far (tests observe reconnects). */
  binds(): number {
    return this.bindCount
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    const conn = this.current
    if (!conn) return
    await conn.close()
    if (this.current === conn) this.current = null
  }

  private connect(): void {
    if (this.stopped) return
    const s = smpp.connect({ host: this.config.host, port: this.config.port })
    const conn = new SmppConnection(s, this.config, this.log, () => this.dropped(conn))
    this.current = conn
    // The smpp package stops reading a session after a PDU parse error, so any
    // error means the session is unusable: drop it and reconnect rather than
    // time out submits the SMSC actually accepted (which would then be resent).
    s.on('error', (err: Error) => {
      this.log.warn({ err: err.message }, 'smpp session error; reconnecting')
      conn.drop(`error: ${err.message}`)
    })
    s.on('close', () => conn.drop('closed'))
    s.on('connect', async () => {
      if (!(await conn.bind())) return
      this.attempt = 0
      this.bindCount++
    })
    s.on('enquire_link', (pdu: PDU) => s.send(pdu.response()))
    s.on('unbind', (pdu: PDU) => {
      s.send(pdu.response())
      conn.drop('unbind by SMSC')
    })
    // Acknowledge only what is durable: a keyword SMS is answered once its change is committed. A
    // temporary error makes the SMSC deliver it again later (SMPP 3.4 §5.1.3 ESME_RX_T_APPN); a
    // session lost first never answers, and the SMSC delivers it again on the next bind.
    s.on('deliver_sm', (pdu: PDU) => {
      void Promise.resolve()
        .then(() => this.onDeliver(pdu))
        .then(() => 0, () => ESME_RX_T_APPN)
        .then((status) => conn.bound && s.send(pdu.response({ command_status: status })))
    })
  }

  private dropped(conn: SmppConnection): void {
    if (this.current !== conn) return
    this.current = null
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return
    // Equal jitter: one session to one SMSC, where a near-zero delay would only hammer it.
    const delay = equalJitter(backoffWindow(this.attempt, { baseMs: this.config.reconnectMinMs, capMs: this.config.reconnectMaxMs }))
    this.attempt++
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, delay)
  }
}
