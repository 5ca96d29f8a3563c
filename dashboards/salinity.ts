import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { Layout, SALINITY_INTRUSION, riceBandsNote, UNITS, baseDashboard, salinityThresholds, stationVariable, target, thresholds } from './common.ts'
import { alertAnnotations } from './annotations.ts'
import { statPanel } from './panels/stat.ts'
import { statusHistoryPanel } from './panels/status-history.ts'
import { tablePanel } from './panels/table.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { DAY_ICT, LONG_READING, STATION } from './queries.ts'

export const SALINITY_UID = 'tidewatch-salinity'

/**
 * Salinity intrusion over a season. The default range (180 days) spans a dry
 * season (December to May), so every panel here reads the hourly rollups in
 * "long"."station_reading_1h": they outlive the raw retention and keep a 180-day query
 * to ~4,300 points per station instead of ~17,000.
 */
const DAILY_MAX = `SELECT max("salinity_max") AS "max" FROM ${LONG_READING} WHERE ${STATION} AND $timeFilter GROUP BY ${DAY_ICT}, "station" fill(none)`

const dayCount = () =>
  thresholds([
    { value: null, color: 'green' },
    { value: 1, color: 'orange' },
    { value: 30, color: 'red' },
  ])

export function salinityDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      6,
      [
        statPanel({
          title: `Số ngày độ mặn vượt ${SALINITY_INTRUSION} ‰`,
          description: `Days (ICT) whose maximum salinity exceeded ${SALINITY_INTRUSION} ‰, the intrusion line of Decision 18/2021/QĐ-TTg (the rice zone danger level), per station in the selected range.`,
          unit: 'suffix: ngày',
          noValue: '0',
          thresholds: dayCount(),
          targets: [
            target('A', `SELECT count("max") FROM (${DAILY_MAX}) WHERE "max" > ${SALINITY_INTRUSION} GROUP BY "station"`, { alias: '$tag_station' }),
          ],
        }),
        12,
      ],
      [
        statPanel({
          title: 'Độ mặn cao nhất trong mùa',
          description: `Highest hourly maximum salinity per station in the selected range; ${riceBandsNote('salinity', '‰')}.`,
          unit: UNITS.salinity,
          decimals: 1,
          thresholds: salinityThresholds(),
          targets: [
            target('A', `SELECT max("salinity_max") FROM ${LONG_READING} WHERE ${STATION} AND $timeFilter GROUP BY "station"`, {
              alias: '$tag_station',
            }),
          ],
        }),
        12,
      ],
    )
    .row(12, [
      statusHistoryPanel({
        title: 'Độ mặn cao nhất theo ngày',
        description: `Daily maximum salinity per station (ICT days); ${riceBandsNote('salinity', '‰')}.`,
        unit: UNITS.salinity,
        thresholds: salinityThresholds(),
        interval: '1d',
        targets: [target('A', DAILY_MAX, { alias: '$tag_station' })],
      }),
      24,
    ])
    .row(10, [
      timeseriesPanel({
        title: 'Diễn biến độ mặn (dữ liệu giờ)',
        description: `Maximum of the hourly rollups per interval; ${riceBandsNote('salinity', '‰')}.`,
        unit: UNITS.salinity,
        bands: salinityThresholds(),
        interval: '1h',
        decimals: 1,
        targets: [
          target(
            'A',
            `SELECT max("salinity_max") FROM ${LONG_READING} WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`,
            { alias: '$tag_station' },
          ),
        ],
      }),
      24,
    ])
    .row(10, [
      tablePanel({
        title: 'Bảng độ mặn cao nhất theo ngày',
        description: `The daily maxima as a table, newest first, for reports; ${riceBandsNote('salinity', '‰')}.`,
        unit: UNITS.salinity,
        thresholds: salinityThresholds(),
        targets: [target('A', `${DAILY_MAX.replace(' fill(none)', ' fill(none) ORDER BY time DESC')}`, { format: 'table' })],
        columns: [
          { field: 'Time', header: 'Ngày' },
          { field: 'station', header: 'Trạm' },
          { field: 'max', header: 'Độ mặn cao nhất', unit: UNITS.salinity, thresholds: salinityThresholds() },
        ],
      }),
      24,
    ])

  return layout
    .addTo(
      baseDashboard({
        uid: SALINITY_UID,
        title: 'Xâm nhập mặn',
        description: `Salinity intrusion over the season from hourly rollups: daily maxima, days above ${SALINITY_INTRUSION} ‰.`,
        from: 'now-180d',
        refresh: '15m',
      }),
    )
    .withVariable(stationVariable({ multi: true }))
    .annotation(alertAnnotations())
    .build()
}

