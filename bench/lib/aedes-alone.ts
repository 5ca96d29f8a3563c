/**
 * The broker ceiling: Aedes 1.2 with its defaults (in-memory persistence),
 * no authentication hooks and no ingest, on loopback. Prints its port.
 *   node bin/run-ts.js bench/lib/aedes-alone.ts
 */
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'

const aedes = await Aedes.createBroker({ id: 'bench-ceiling' })
const server = createServer((socket) => aedes.handle(socket))
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`)
})
process.on('SIGTERM', () => aedes.close(() => server.close(() => process.exit(0))))
