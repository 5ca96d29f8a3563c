import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { Layout, UNITS, baseDashboard, rssiThresholds, stationVariable, target, thresholds } from './common.ts'
import { statPanel } from './panels/stat.ts'
import { tablePanel } from './panels/table.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { STATION } from './queries.ts'

export const DEVICES_UID = 'tidewatch-devices'

const per = (field: string, fn = 'mean') =>
  `SELECT ${fn}("${field}") FROM "station_health" WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`

// A late reading arrived more than ingest.lateAfterSec after its device time.
const lateCount = () =>
  thresholds([
    { value: null, color: 'green' },
    { value: 1, color: 'orange' },
  ])

export function deviceHealthDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      5,
      [
        statPanel({
          title: 'Trạm đang mất dữ liệu',
          description: 'Stations whose latest no-data alert (alert_event, level no_data) is firing: silent for 3x their reporting interval.',
          unit: UNITS.count,
          noValue: '0',
          thresholds: lateCount(),
          targets: [
            target(
              'A',
              `SELECT count("state") FROM (SELECT last("state") AS "state" FROM "alert_event" WHERE "level" = 'no_data' GROUP BY "station") WHERE "state" = 'firing'`,
            ),
          ],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Bản tin đến trễ',
          description: 'Housekeeping points marked late (arrived after ingest.lateAfterSec) in the selected range.',
          unit: UNITS.count,
          noValue: '0',
          thresholds: lateCount(),
          targets: [target('A', `SELECT count("delay_s") FROM "station_health" WHERE "late" = true AND ${STATION} AND $timeFilter`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Pin thấp nhất',
          description: 'Lowest latest supply voltage among the selected stations.',
          unit: UNITS.volt,
          decimals: 2,
          targets: [
            target('A', `SELECT min("last") FROM (SELECT last("battery") FROM "station_health" WHERE ${STATION} AND $timeFilter GROUP BY "station")`),
          ],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Độ trễ lớn nhất',
          description: 'Largest delay between device time and arrival in the selected range.',
          unit: UNITS.seconds,
          targets: [target('A', `SELECT max("delay_s") FROM "station_health" WHERE ${STATION} AND $timeFilter`)],
        }),
        6,
      ],
    )
    .row(10, [
      tablePanel({
        title: 'Trạng thái thiết bị',
        description:
          'Latest housekeeping point per station over the last 30 days (not the dashboard range, so long-silent stations stay listed), oldest first.',
        unit: UNITS.count,
        // A single selector (last) with extra fields returns the values and the
        // time of that same point, so Time is the station's last-seen time.
        targets: [
          target(
            'A',
            `SELECT last("battery") AS "battery", "rssi", "delay_s" FROM "station_health" WHERE ${STATION} AND time > now() - 30d GROUP BY "station"`,
            { format: 'table' },
          ),
        ],
        columns: [
          { field: 'Time', header: 'Lần cuối', unit: UNITS.fromNow },
          { field: 'station', header: 'Trạm' },
          { field: 'battery', header: 'Pin', unit: UNITS.volt },
          { field: 'rssi', header: 'RSSI', unit: UNITS.dBm, thresholds: rssiThresholds() },
          { field: 'delay_s', header: 'Độ trễ', unit: UNITS.seconds },
        ],
        sortBy: { header: 'Lần cuối' },
      }),
      24,
    ])
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Điện áp pin',
          description: 'Supply voltage per station.',
          unit: UNITS.volt,
          interval: '15m',
          decimals: 2,
          targets: [target('A', per('battery'), { alias: '$tag_station' })],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Tín hiệu di động (RSSI)',
          description: 'Cellular signal per station; below about -105 dBm uploads start failing.',
          unit: UNITS.dBm,
          bands: rssiThresholds(),
          interval: '15m',
          targets: [target('A', per('rssi'), { alias: '$tag_station' })],
        }),
        12,
      ],
    )
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Độ trễ và lệch đồng hồ',
          description:
            'Arrival delay (arrival minus device time) per station: max shows backlogs and reconnects, min below zero means the station clock runs ahead.',
          unit: UNITS.seconds,
          interval: '15m',
          targets: [
            target('A', per('delay_s', 'max'), { alias: '$tag_station tối đa' }),
            target('B', per('delay_s', 'min'), { alias: '$tag_station tối thiểu' }),
          ],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Bản tin đến trễ theo trạm',
          description: 'Housekeeping points marked late per interval and station.',
          unit: UNITS.count,
          interval: '15m',
          bars: true,
          stacked: true,
          targets: [
            target(
              'A',
              `SELECT count("delay_s") FROM "station_health" WHERE "late" = true AND ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`,
              { alias: '$tag_station' },
            ),
          ],
        }),
        12,
      ],
    )

  return layout
    .addTo(
      baseDashboard({
        uid: DEVICES_UID,
        title: 'Tình trạng thiết bị',
        description: 'Device health: silent stations, last seen, battery, signal, clock skew and late readings.',
        from: 'now-24h',
      }),
    )
    .withVariable(stationVariable({ multi: true }))
    .build()
}
