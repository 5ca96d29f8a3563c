/**
 * The read requests whose answers must not depend on how readings are stored
 * (tests/api/schema-equivalence.test.ts): every API, open-data export, board
 * and SensorThings path that queries the readings, on the stations of the
 * dashboard fixture (tests/dashboards/fixtures.ts). Plain fetches, so the same
 * list can be run against any build of the platform.
 */
import { STATIONS } from '../dashboards/fixtures.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const QUARTER_HOUR = 15 * 60_000

/** Registers the fixture's stations (the four core sensors each). */
export async function registerFixtureStations(registry: { add(s: { id: string; name: string; lat: number; lon: number }): Promise<unknown> }): Promise<void> {
  for (const [i, id] of STATIONS.entries()) await registry.add({ id, name: `Trạm ${id}`, lat: 9 + i / 10, lon: 105 })
}

export function schemaRequests(now: number): string[] {
  const end = Math.floor(now / QUARTER_HOUR) * QUARTER_HOUR
  const iso = (t: number) => new Date(t).toISOString()
  const localDate = (t: number) => new Date(t + 7 * HOUR).toISOString().slice(0, 10)
  const recent = `from=${iso(end - 6 * HOUR)}&to=${iso(end)}`
  const days = `from=${iso(end - 3 * DAY)}&to=${iso(end)}`
  const ds = (id: string, k: string) => encodeURIComponent(`'${id}:${k}'`)
  return [
    '/api/v1/stations/CM-003/latest',
    '/api/v1/stations/CM-004/latest',
    `/api/v1/stations/CM-003/readings?${recent}`,
    `/api/v1/stations/CM-001/readings?${days}&every=1h`,
    `/api/v1/stations/CM-002/readings?${days}&every=1d&sensor=ph`,
    `/api/v1/stations/CM-002/readings.csv?${recent}`,
    `/api/v1/open/readings.csv?${days}&every=1h`,
    `/api/v1/open/readings.csv?${recent}&every=15m&station=CM-003&sensor=salinity`,
    '/open/v1/stations',
    `/open/v1/stations/CM-003/readings.json?${recent}`,
    `/open/v1/stations/CM-003/readings.json?${days}&every=1h`,
    `/open/v1/stations/CM-001/readings.csv?${recent}&sensor=no2`,
    `/open/v1/stations/CM-003/daily.json?from=${localDate(end - 5 * DAY)}&to=${localDate(end)}`,
    `/open/v1/stations/CM-002/daily.csv?from=${localDate(end - 2 * DAY)}&to=${localDate(end)}`,
    '/board.json',
    '/sta/v1.1/Observations?$top=30',
    '/sta/v1.1/Observations?$top=20&$skip=45',
    '/sta/v1.1/Observations?$orderby=phenomenonTime%20asc&$top=25&$skip=3',
    `/sta/v1.1/Observations?$filter=result%20gt%203%20and%20phenomenonTime%20ge%20${iso(end - DAY)}&$count=true&$top=10`,
    `/sta/v1.1/Observations?$filter=phenomenonTime%20ge%20${iso(end - 2 * HOUR)}&$orderby=result%20desc&$top=15`,
    `/sta/v1.1/Datastreams(${ds('CM-003', 'salinity')})/Observations?$top=5&$skip=2&$count=true`,
    `/sta/v1.1/Datastreams?$expand=Observations($top=2)`,
    `/sta/v1.1/FeaturesOfInterest('CM-002')/Observations?$top=12&$skip=7&$count=true`,
    `/sta/v1.1/Things('CM-001')?$expand=Datastreams($expand=Observations($top=1))`,
    `/sta/v1.1/Observations(${encodeURIComponent(`'CM-001:ph:${end - HOUR}'`)})`,
  ]
}

export interface Answer {
  status: number
  body: string
}

/** Every request's status and body; JSON without its serving time (`now`), which no two servers share. */
export async function collectAnswers(baseUrl: string, token: string, now: number): Promise<Record<string, Answer>> {
  const out: Record<string, Answer> = {}
  for (const path of schemaRequests(now)) {
    const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
    // Absolute links (SensorThings) name the server's own port.
    const text = (await res.text()).replaceAll(baseUrl, 'http://api')
    let body = text
    try {
      const parsed = JSON.parse(text)
      if (parsed && typeof parsed === 'object' && 'now' in parsed) delete parsed.now
      body = JSON.stringify(parsed)
    } catch {
      // CSV and HTML stay text.
    }
    out[path] = { status: res.status, body }
  }
  return out
}
