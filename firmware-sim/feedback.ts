/**
 * What a real firmware should do with feedback on stations/<id>/feedback:
 * the PUBACK already came (the data center keeps refused readings in its
 * quarantine), so log and count, which is what a field technician reads.
 * See docs/PROTOCOL.md.
 */
import type { Logger } from '../core/log.ts'
import { FeedbackMessageSchema } from '../core/protocol.ts'

export class FeedbackLog {
  /** Feedback messages read: one per payload with a refusal. */
  messages = 0
  /** Readings or values refused, omitted ones included. */
  refused = 0
  /** `refused` by reason code (core/errors.ts). */
  readonly refusedByCode: Record<string, number> = {}

  constructor(private readonly log: Logger) {}

  receive(payload: Buffer): void {
    let json: unknown
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {
      json = undefined
    }
    const parsed = FeedbackMessageSchema.safeParse(json)
    if (!parsed.success) {
      this.log.warn({ excerpt: payload.subarray(0, 200).toString('utf8') }, 'unreadable feedback message')
      return
    }
    const msg = parsed.data
    this.messages++
    this.refused += msg.refused.length + (msg.omitted ?? 0)
    for (const r of msg.refused) this.refusedByCode[r.code] = (this.refusedByCode[r.code] ?? 0) + 1
    this.log.info({ seq: msg.seq, readings: msg.readings, stored: msg.stored, refused: msg.refused, omitted: msg.omitted }, 'data center refused readings')
  }
}
