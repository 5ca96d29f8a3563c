import { AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { DS, target } from './common.ts'
import { STATION } from './queries.ts'

/**
 * Alert state changes (alert_event) drawn on every time series of the
 * dashboard. `text` is the alerter's one-line summary; level and state become
 * annotation tags so staff can filter them.
 */
export function alertAnnotations(): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name('Cảnh báo')
    .datasource(DS)
    .enable(true)
    .iconColor('red')
    .target(
      target(
        'Anno',
        `SELECT "text", "level", "state", "sensor" FROM "alert_event" WHERE ${STATION} AND $timeFilter`,
        { format: 'table' },
      ).annotationColumns({ text: 'text', tags: ['level', 'state', 'sensor'] }),
    )
}
