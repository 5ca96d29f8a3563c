import type { FastifyReply, FastifyRequest } from 'fastify'
import type { MetricFamily, MetricsSource } from '../core/metrics.ts'

/**
 * The API's own metrics: the answers it gave, by HTTP status. Label by
 * status only, never by URL: station ids and query strings in URLs would
 * make one series per station and per query.
 */
export class ApiMetrics implements MetricsSource {
  private readonly byStatus = new Map<number, number>()

  /** An onResponse hook: counts every answer, 401s and 429s included. */
  readonly onResponse = async (_req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    this.byStatus.set(reply.statusCode, (this.byStatus.get(reply.statusCode) ?? 0) + 1)
  }

  metrics(): MetricFamily[] {
    return [
      {
        name: 'tidewatch_http_responses_total',
        help: 'HTTP answers of the API, board and console, by status code',
        type: 'counter',
        samples: [...this.byStatus].sort(([a], [b]) => a - b).map(([status, value]) => ({ labels: { status: String(status) }, value })),
      },
    ]
  }
}
