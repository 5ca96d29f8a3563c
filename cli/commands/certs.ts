import { join } from 'node:path'
import type { Config } from '../../core/config.ts'
import { isTidewatchError, TidewatchError } from '../../core/errors.ts'
import { ensureDevCertificates } from '../../broker/tls/dev-ca.ts'
import { parse, subcommandOf, type Io } from '../args.ts'

export const USAGE = `Usage: tidewatch certs dev [--out DIR] [--host NAME]... [--force]
  A development CA and a server certificate signed by it (default DIR: <data>/tls).
  An existing CA is kept: stations trust it. If only the server certificate is
  missing, a new one is signed by the existing CA. --force replaces the CA.`

/** Exit code when an existing CA was not replaced: a usage error, like a bad flag (README "Exit codes"). */
const EXIT_REFUSED = 1

/** `tidewatch certs dev [--out DIR] [--host NAME]... [--force]`: a development CA and server certificate. */
export async function certsCommand(argv: string[], config: Readonly<Config>, io: Io): Promise<number> {
  const [sub, rest] = subcommandOf(argv)
  if (sub === undefined) return (io.stdout(USAGE), 0)
  if (sub !== 'dev') throw new TidewatchError('BAD_REQUEST', { sub }, `certs: unknown subcommand "${sub}"`)
  const { values } = parse(rest, { out: { type: 'string' }, host: { type: 'string', multiple: true }, force: { type: 'boolean', default: false } }, false)
  const dir = values.out ?? join(config.dataDir, 'tls')
  const hosts = values.host?.length ? values.host : ['localhost']
  let result
  try {
    result = ensureDevCertificates(dir, hosts, { force: values.force })
  } catch (err) {
    if (!isTidewatchError(err) || err.code !== 'TLS_CA_EXISTS') throw err
    io.stderr(`tidewatch: ${err.message}`)
    return EXIT_REFUSED
  }
  if (result.action === 'reused') {
    // Asked for certificates but all exist: say so and change nothing.
    io.stderr(
      `tidewatch: not replaced: a development CA already exists at ${result.caFile} (server certificate ${result.certFile}). ` +
        'Stations trust this CA; replacing it makes every station fail TLS. Re-run with --force to replace it anyway.',
    )
    return EXIT_REFUSED
  }
  if (result.action === 'reissued') io.stdout(`Kept the existing CA; issued a new server certificate signed by it.`)
  else if (values.force) io.stdout('Replaced the CA (--force): give the new ca.crt to every station.')
  io.stdout(`CA certificate (give to stations): ${result.caFile}`)
  io.stdout(`Server certificate: ${result.certFile}`)
  io.stdout(`Server key:         ${result.keyFile}`)
  io.stdout(`Enable TLS with TIDEWATCH_TLS_CERT=${result.certFile} TIDEWATCH_TLS_KEY=${result.keyFile}`)
  return 0
}
