import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { Layout, UNITS, baseDashboard, target, thresholds } from './common.ts'
import { statPanel } from './panels/stat.ts'
import { tablePanel } from './panels/table.ts'
import { timeseriesPanel } from './panels/timeseries.ts'

export const DATA_QUALITY_UID = 'tidewatch-data-quality'

/** ingest_stats counters are cumulative per process; the derivative is the rate and ignores restarts. */
const rate = (field: string) =>
  `SELECT non_negative_derivative(max("${field}"), 1s) FROM "ingest_stats" WHERE $timeFilter GROUP BY time($__interval), "target" fill(none)`

const gauge = (field: string) =>
  `SELECT max("${field}") FROM "ingest_stats" WHERE $timeFilter GROUP BY time($__interval), "target" fill(none)`

// A lag of a few flush intervals is normal; minutes mean a target is down.
const lagSeconds = () =>
  thresholds([
    { value: null, color: 'green' },
    { value: 60, color: 'orange' },
    { value: 600, color: 'red' },
  ])

export function dataQualityDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      5,
      [
        statPanel({
          title: 'Bản tin bị cách ly',
          description: 'Readings or values rejected into the quarantine in the selected range.',
          unit: UNITS.count,
          noValue: '0',
          thresholds: thresholds([
            { value: null, color: 'green' },
            { value: 1, color: 'orange' },
          ]),
          targets: [target('A', `SELECT sum("count") FROM "quarantine" WHERE $timeFilter`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Dung lượng spool',
          description: 'Bytes held in the on-disk spool, latest, largest target.',
          unit: UNITS.bytes,
          targets: [target('A', `SELECT last("spool_bytes") FROM "ingest_stats" WHERE $timeFilter GROUP BY "target"`, { alias: '$tag_target' })],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Độ trễ ghi (giây)',
          description: 'Age of the oldest reading not yet written, per InfluxDB target.',
          unit: UNITS.seconds,
          thresholds: lagSeconds(),
          targets: [target('A', `SELECT last("lag_seconds") FROM "ingest_stats" WHERE $timeFilter GROUP BY "target"`, { alias: '$tag_target' })],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Bản tin chờ ghi',
          description: 'Readings spooled but not yet written, per InfluxDB target.',
          unit: UNITS.count,
          targets: [target('A', `SELECT last("lag_readings") FROM "ingest_stats" WHERE $timeFilter GROUP BY "target"`, { alias: '$tag_target' })],
        }),
        6,
      ],
    )
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Cách ly theo lý do',
          description: 'Rejections per interval by reason code (docs/PROTOCOL.md).',
          unit: UNITS.count,
          interval: '1m',
          bars: true,
          stacked: true,
          targets: [
            target('A', `SELECT sum("count") FROM "quarantine" WHERE $timeFilter GROUP BY time($__interval), "reason" fill(none)`, {
              alias: '$tag_reason',
            }),
          ],
        }),
        12,
      ],
      [
        tablePanel({
          title: 'Cách ly theo trạm và lý do',
          description: 'Rejections in the selected range per station (as claimed by the topic) and reason.',
          unit: UNITS.count,
          targets: [
            target('A', `SELECT sum("count") AS "count" FROM "quarantine" WHERE $timeFilter GROUP BY "station", "reason"`, { format: 'table' }),
          ],
          columns: [
            { field: 'station', header: 'Trạm' },
            { field: 'reason', header: 'Lý do' },
            { field: 'count', header: 'Số lượng', unit: UNITS.count },
          ],
          transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }],
          sortBy: { header: 'Số lượng', desc: true },
        }),
        12,
      ],
    )
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Thông lượng ingest',
          description: 'Payloads received and readings accepted or rejected per second, per InfluxDB target.',
          unit: UNITS.perSecond,
          interval: '1m',
          targets: [
            target('A', rate('received'), { alias: '$tag_target nhận' }),
            target('B', rate('accepted'), { alias: '$tag_target chấp nhận' }),
            target('C', rate('rejected'), { alias: '$tag_target loại' }),
          ],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Dung lượng spool',
          description: 'Bytes held in the on-disk spool per target; growth means a target is not keeping up.',
          unit: UNITS.bytes,
          interval: '1m',
          targets: [target('A', gauge('spool_bytes'), { alias: '$tag_target' })],
        }),
        12,
      ],
    )
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Độ trễ ghi theo đích',
          description: 'Age of the oldest unwritten reading per target.',
          unit: UNITS.seconds,
          bands: lagSeconds(),
          interval: '1m',
          targets: [target('A', gauge('lag_seconds'), { alias: '$tag_target' })],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Bản tin chờ ghi theo đích',
          description: 'Readings spooled but not yet written per target.',
          unit: UNITS.count,
          interval: '1m',
          targets: [target('A', gauge('lag_readings'), { alias: '$tag_target' })],
        }),
        12,
      ],
    )
    .row(10, [
      tablePanel({
        title: 'Bản tin bị cách ly gần nhất',
        description: 'The latest 200 rejections; the full payload excerpt is in GET /api/v1/quarantine.',
        unit: UNITS.count,
        targets: [
          target(
            'A',
            `SELECT "station", "reason", "sensor", "detail" FROM "quarantine" WHERE $timeFilter ORDER BY time DESC LIMIT 200`,
            { format: 'table' },
          ),
        ],
        columns: [
          { field: 'Time', header: 'Thời điểm' },
          { field: 'station', header: 'Trạm' },
          { field: 'reason', header: 'Lý do' },
          { field: 'sensor', header: 'Cảm biến' },
          { field: 'detail', header: 'Chi tiết' },
        ],
      }),
      24,
    ])

  return layout
    .addTo(
      baseDashboard({
        uid: DATA_QUALITY_UID,
        title: 'Chất lượng dữ liệu',
        description: 'Data quality: quarantined readings by reason and station, ingest throughput, spool depth and write lag per target.',
        from: 'now-24h',
        refresh: '30s',
      }),
    )
    .build()
}
