import { join } from 'node:path'
import type { Config } from '../../core/config.ts'
import { createDevCertificates } from '../../broker/tls/dev-ca.ts'
import { parse, type Io } from '../args.ts'

/** `tidewatch certs dev [--out DIR] [--host NAME]...`: a development CA and server certificate. */
export async function certsCommand(argv: string[], config: Readonly<Config>, io: Io): Promise<number> {
  const [sub, ...rest] = argv
  if (sub !== 'dev') {
    io.stderr('Usage: tidewatch certs dev [--out DIR] [--host NAME]...   (development CA + server certificate)')
    return sub === undefined ? 0 : 1
  }
  const { values } = parse(rest, { out: { type: 'string' }, host: { type: 'string', multiple: true } }, false)
  const dir = values.out ?? join(config.dataDir, 'tls')
  const paths = createDevCertificates(dir, values.host?.length ? values.host : ['localhost'])
  io.stdout(`CA certificate (give to stations): ${paths.caFile}`)
  io.stdout(`Server certificate: ${paths.certFile}`)
  io.stdout(`Server key:         ${paths.keyFile}`)
  io.stdout(`Enable TLS with TIDEWATCH_TLS_CERT=${paths.certFile} TIDEWATCH_TLS_KEY=${paths.keyFile}`)
  return 0
}
