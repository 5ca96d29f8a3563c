// Minimal types for smpp 0.5.1 (farhadi/node-smpp), covering what tidewatch uses.
declare module 'smpp' {
  import { EventEmitter } from 'node:events'
  import type { Server as NetServer, Socket } from 'node:net'

  export interface ShortMessage {
    message: string | Buffer
    udh?: Buffer | Buffer[]
  }

  /** A decoded or to-be-encoded PDU; parameters and TLVs are plain properties. */
  export interface PDU {
    command: string
    command_id: number
    command_status: number
    sequence_number: number
    system_id?: string
    password?: string
    source_addr?: string
    source_addr_ton?: number
    source_addr_npi?: number
    destination_addr?: string
    dest_addr_ton?: number
    dest_addr_npi?: number
    esm_class?: number
    data_coding?: number
    registered_delivery?: number
    short_message?: ShortMessage | string | Buffer
    message_payload?: ShortMessage | string | Buffer
    message_id?: string
    receipted_message_id?: string
    message_state?: number
    [key: string]: unknown
    isResponse(): boolean
    response(options?: Record<string, unknown>): PDU
  }

  export type ResponseCallback = (pdu: PDU) => void

  export class Session extends EventEmitter {
    socket: Socket
    server?: Server
    send(pdu: PDU, responseCallback?: ResponseCallback, sendCallback?: ResponseCallback): boolean
    close(callback?: () => void): void
    destroy(callback?: () => void): void
    pause(): void
    resume(): void
    bind_transceiver(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean
    submit_sm(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean
    deliver_sm(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean
    enquire_link(options?: Record<string, unknown> | ResponseCallback, responseCallback?: ResponseCallback): boolean
    unbind(options?: Record<string, unknown> | ResponseCallback, responseCallback?: ResponseCallback): boolean
    [command: string]: unknown
  }

  export class Server extends NetServer {
    sessions: Session[]
  }

  export function createServer(options?: Record<string, unknown>, listener?: (session: Session) => void): Server
  export function createServer(listener: (session: Session) => void): Server
  export function connect(options: { host: string; port: number; [key: string]: unknown }, listener?: () => void): Session
  export const PDU: { new (command: string, options?: Record<string, unknown>): PDU }

  export const ESME_ROK: number
  export const ESME_RTHROTTLED: number
  export const ESME_RMSGQFUL: number
  export const ESME_RSYSERR: number
  export const ESME_RBINDFAIL: number
  export const ESME_RINVPASWD: number
  export const ESM_CLASS: Record<string, number>
  export const MESSAGE_STATE: Record<string, number>
  export const TON: Record<string, number>
  export const NPI: Record<string, number>
  export const ENCODING: Record<string, number>

  const smpp: {
    createServer: typeof createServer
    connect: typeof connect
    PDU: typeof PDU
    ESME_ROK: number
    ESME_RTHROTTLED: number
    ESME_RMSGQFUL: number
    ESME_RSYSERR: number
    ESM_CLASS: Record<string, number>
    MESSAGE_STATE: Record<string, number>
  }
  export default smpp
}
