/**
 * Every bound of the SensorThings API in one place (documented in
 * docs/OPEN-DATA.md, "SensorThings API"). A request that would go past one is
 * either capped and paged (`$top`) or refused with STA_QUERY_INVALID before
 * InfluxDB is asked: nothing here can turn into a timeout.
 */
export const STA_LIMITS = Object.freeze({
  /** Largest page of a top-level collection; a larger $top is capped and paged with @iot.nextLink. */
  maxTop: 1000,
  /** Page size of a top-level collection when $top is absent (a province has 10^2–10^3 stations: one page). */
  defaultTop: 1000,
  /** Page size of an expanded collection when its $top is absent (FROST-Server's default). */
  defaultExpandTop: 100,
  /** Longest query string we parse, in characters. */
  maxQueryLength: 8000,
  /** Deepest nesting of a $filter / $orderby expression (parentheses, not, function calls). */
  maxExpressionDepth: 32,
  /** Deepest $expand nesting (Things → Datastreams → Observations is 2). */
  maxExpandDepth: 4,
  /** Terms in one $orderby, items in one $select or $expand. */
  maxListItems: 32,
  /**
   * Observations held in memory for one request when a $filter or $orderby
   * cannot be pushed down to InfluxQL: they are fetched in phenomenonTime
   * order up to this many, then filtered and sorted here. Going past it is a
   * 400 that says to narrow the phenomenonTime range.
   */
  maxScan: 20_000,
  /** Expanded Observations one response may carry in total (parents × $top). */
  maxExpandedObservations: 20_000,
  /** Path segments after /sta/v1.1. */
  maxPathSegments: 12,
})
