import { z } from 'zod'

/**
 * Alerter configuration, parsed once with the rest of the config (mounted
 * as `alerts` in core/config.ts) and frozen. It lives on the ground floor
 * with the rest of the configuration, so core/ imports nothing above it. Every field has a
 * default so `{}` is a working development setup: log channel, no SMPP.
 */
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM (24 h, Asia/Ho_Chi_Minh)')

// Each schema is built on its first use (z.lazy): a CLI command whose
// configuration has no `alerts` section never builds them (issue 13:
// building every config schema cost ~20 ms of a short command's start-up).

export const SmppConfigSchema = z.lazy(() =>
  z.object({
    enabled: z.boolean().default(false),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(2775),
    systemId: z.string().max(16).default('tidewatch'),
    password: z.string().max(9).default(''),
    systemType: z.string().max(13).default(''),
    /** Brandname registered with the operator; alphanumeric sender ids are at most 11 characters. */
    sourceAddr: z.string().min(1).max(11).default('TIDEWATCH'),
    /** submit_sm PDUs per second towards this SMSC (every part of a long SMS counts). */
    ratePerSec: z.number().positive().max(1000).default(20),
    /** false: the gateway refuses UCS-2, so every message is sent without diacritics as GSM-7. */
    useUnicode: z.boolean().default(true),
    /** Ask for delivery receipts (registered_delivery = 1). */
    deliveryReceipts: z.boolean().default(true),
    enquireLinkMs: z.number().int().positive().default(30_000),
    responseTimeoutMs: z.number().int().positive().default(10_000),
    reconnectMinMs: z.number().int().positive().default(500),
    reconnectMaxMs: z.number().int().positive().default(30_000),
    /** How long to slow down after ESME_RTHROTTLED (0x58) before stepping the rate back up. */
    throttleBackoffMs: z.number().int().positive().default(2_000),
    /** Outstanding submit_sm without a response. */
    window: z.number().int().positive().max(100).default(10),
  })
  .prefault({}),
)

export const HttpGatewayConfigSchema = z.lazy(() =>
  z.object({
    enabled: z.boolean().default(false),
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. https://sms.example.vn/send' }).default('http://127.0.0.1:9090/sms'),
    /** Sent verbatim as the Authorization header, e.g. "Bearer xyz". Empty: none. */
    authHeader: z.string().default(''),
    /**
     * JSON body with placeholders {{to}}, {{text}}, {{sender}}, {{id}}, {{unicode}},
     * substituted JSON-escaped. The id is also sent as the Idempotency-Key header.
     */
    bodyTemplate: z.string().default('{"to":"{{to}}","from":"{{sender}}","text":"{{text}}","unicode":{{unicode}},"id":"{{id}}"}'),
    sourceAddr: z.string().min(1).max(11).default('TIDEWATCH'),
    ratePerSec: z.number().positive().max(1000).default(10),
    useUnicode: z.boolean().default(true),
    timeoutMs: z.number().int().positive().default(10_000),
    /** Shared secret the gateway must send as X-Tidewatch-Secret on the inbound webhook. Empty: not checked. */
    inboundSecret: z.string().default(''),
  })
  .prefault({}),
)

export const EmailConfigSchema = z.lazy(() =>
  z.object({
    /** false: staff e-mails are only written to the log (development). */
    enabled: z.boolean().default(false),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(25),
    /** true for SMTPS (465); otherwise STARTTLS is used when the server offers it. */
    secure: z.boolean().default(false),
    user: z.string().optional(),
    password: z.string().optional(),
    from: z.string().default('tidewatch <tidewatch@localhost>'),
    ratePerSec: z.number().positive().max(100).default(5),
    timeoutMs: z.number().int().positive().default(15_000),
  })
  .prefault({}),
)

export const AlertsConfigSchema = z.lazy(() =>
  z.object({
    enabled: z.boolean().default(true),
    /** Channel that carries farmer and staff SMS. "log" only writes the text to the log (development). */
    smsChannel: z.enum(['smpp', 'http', 'log']).default('log'),
    smpp: SmppConfigSchema,
    http: HttpGatewayConfigSchema,
    /** Staff e-mail (SMTP). */
    email: EmailConfigSchema,
    /** One SMS per subscriber per station per level within this window, unless the level escalates. */
    windowSec: z.number().int().positive().default(6 * 3600),
    /** Alert SMS per farmer per rolling 24 h; danger is never capped (see docs/ALERTS.md). */
    dailyCap: z.number().int().positive().default(10),
    /** Keyword replies per phone per rolling 24 h (stops loops with auto-responders). */
    replyCap: z.number().int().positive().default(20),
    /** Optional quiet hours (local time); warnings are deferred to their end, danger is never held. */
    quietHours: z.object({ start: hhmm, end: hhmm }).nullable().default(null),
    /** Readings waiting for evaluation; beyond this the oldest are dropped and counted. */
    queueMax: z.number().int().positive().default(20_000),
    /** A station silent for this many times its interval raises no_data (staff only). */
    noDataFactor: z.number().positive().default(3),
    noDataCheckMs: z.number().int().positive().default(30_000),
    /** Readings older than this on arrival (device time) never drive farmer alerts. */
    staleAfterSec: z.number().int().positive().default(30 * 60),
    /**
     * The number farmers text keywords to (DK SD01), shown on the public board's
     * "Nhận tin nhắn SMS" panel; null hides the number there.
     */
    publicSmsNumber: z.string().regex(/^\+?[0-9]{3,15}$/, 'digits, optionally with a leading +').nullable().default(null),
    /** Diacritics for replies to phones that are not subscribed yet. */
    defaultDiacritics: z.boolean().default(false),
    outbox: z
      .object({
        maxAttempts: z.number().int().positive().default(8),
        retryBaseMs: z.number().int().positive().default(2_000),
        retryMaxMs: z.number().int().positive().default(10 * 60_000),
        batch: z.number().int().positive().default(200),
      })
      .prefault({}),
  })
  .prefault({}),
)

export type AlertsConfig = z.infer<typeof AlertsConfigSchema>
export type SmppConfig = z.infer<typeof SmppConfigSchema>
export type HttpGatewayConfig = z.infer<typeof HttpGatewayConfigSchema>
export type EmailConfig = z.infer<typeof EmailConfigSchema>
