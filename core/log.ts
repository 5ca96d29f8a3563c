import { pino, type Logger } from 'pino'

export type { Logger }

/** The root logger; components take `log.child({ component })`. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? process.stderr)
}

export const silentLogger: Logger = pino({ level: 'silent' })
