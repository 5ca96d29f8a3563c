import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { Layout, UNITS, baseDashboard, riceBandsNote, salinityThresholds, stationVariable, target } from './common.ts'
import { stationMapPanel } from './panels/geomap.ts'
import { statPanel } from './panels/stat.ts'
import { tablePanel } from './panels/table.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { FIRING_ALERTS, READING, STATION, storedValues } from './queries.ts'

export const OVERVIEW_UID = 'tidewatch-overview'

// The latest salinity per station in the selected range; the map and the table share it.
const LATEST_SALINITY = `SELECT last("salinity") AS "salinity" FROM ${READING} WHERE $timeFilter GROUP BY "station"`

export function overviewDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      5,
      [
        statPanel({
          title: 'Trạm trực tuyến (30 phút)',
          description: 'Stations that sent at least one reading in the last 30 minutes.',
          unit: UNITS.count,
          noValue: '0',
          targets: [
            target('A', `SELECT count("last") FROM (SELECT last("late") FROM ${READING} WHERE time > now() - 30m GROUP BY "station")`),
          ],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Số bản tin 1 giờ qua',
          description: 'Sensor values stored in the last hour, all stations and sensors.',
          unit: UNITS.count,
          noValue: '0',
          targets: [target('A', storedValues('time > now() - 1h'))],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Cảnh báo đang hoạt động',
          description: 'Alerts whose latest state change (alert_event) is "firing", one per station, sensor and level.',
          unit: UNITS.count,
          noValue: '0',
          targets: [target('A', `SELECT count("state") FROM (${FIRING_ALERTS}) WHERE "state" = 'firing'`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Độ mặn cao nhất hiện tại',
          description: `Highest of the latest salinity values of all stations; ${riceBandsNote('salinity', '‰')}.`,
          unit: UNITS.salinity,
          decimals: 1,
          thresholds: salinityThresholds(),
          targets: [target('A', `SELECT max("salinity") FROM (${LATEST_SALINITY})`)],
        }),
        6,
      ],
    )
    .row(
      14,
      [
        stationMapPanel({
          title: 'Bản đồ độ mặn các trạm',
          description: `Stations coloured by their latest salinity; ${riceBandsNote('salinity', '‰')}.`,
          unit: UNITS.salinity,
          valueField: 'salinity',
          thresholds: salinityThresholds(),
          target: target('A', LATEST_SALINITY, { format: 'table' }),
        }),
        14,
      ],
      [
        tablePanel({
          title: 'Độ mặn mới nhất theo trạm',
          description: `Latest salinity per station and when it was measured; ${riceBandsNote('salinity', '‰')}.`,
          unit: UNITS.salinity,
          thresholds: salinityThresholds(),
          targets: [target('A', LATEST_SALINITY, { format: 'table' })],
          columns: [
            { field: 'Time', header: 'Thời điểm', unit: UNITS.fromNow },
            { field: 'station', header: 'Trạm' },
            { field: 'salinity', header: 'Độ mặn', unit: UNITS.salinity, thresholds: salinityThresholds() },
          ],
          sortBy: { header: 'Độ mặn', desc: true },
        }),
        10,
      ],
    )
    .row(10, [
      timeseriesPanel({
        title: 'Độ mặn các trạm theo thời gian',
        description: `Mean salinity per station; ${riceBandsNote('salinity', '‰')}.`,
        unit: UNITS.salinity,
        bands: salinityThresholds(),
        interval: '15m',
        decimals: 1,
        targets: [
          target(
            'A',
            `SELECT mean("salinity") FROM ${READING} WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`,
            { alias: '$tag_station' },
          ),
        ],
      }),
      24,
    ])

  return layout
    .addTo(
      baseDashboard({
        uid: OVERVIEW_UID,
        title: 'Tổng quan tỉnh Cà Mau',
        description: 'Province overview: stations online, salinity map and salinity of all stations.',
        from: 'now-24h',
      }),
    )
    .withVariable(stationVariable({ multi: true }))
    .build()
}
