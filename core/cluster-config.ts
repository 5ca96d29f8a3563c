import { z } from 'zod'

/**
 * Cluster mode (docs/CLUSTER.md): the engines that let DC and DR both run
 * (issue 16). Mounted as `cluster` in core/config.ts and frozen with the rest.
 * Every field defaults to "off": the single-process `tidewatch up` and
 * `npm test` never need NATS, PostgreSQL or HAProxy. Built on its first use
 * (z.lazy): a CLI command whose configuration has no `cluster` section never
 * builds it (issue 13).
 */
export const ClusterConfigSchema = z.lazy(() =>
  z.object({
    /** This node's name in logs, leases and consumer names (e.g. `dc-edge-1`). */
    nodeId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    /** Which site this node runs in; the alerter and the docs use it. */
    site: z.enum(['dc', 'dr']).default('dc'),
    nats: z
      .object({
        /**
         * NATS servers of the JetStream cluster, e.g. `nats://10.0.0.1:4222`; empty = no replicated log.
         * A URL, checked here: the NATS client takes any word for a host name, so a typo failed only at
         * connect, as a DNS error.
         */
        servers: z.array(z.url({ protocol: /^(nats|tls)$/, error: 'must be a nats:// or tls:// URL, e.g. nats://10.0.0.1:4222' })).default([]),
        /** The stream that holds acknowledged readings until every InfluxDB target has them. */
        stream: z.string().regex(/^[A-Za-z0-9_-]+$/).default('TIDEWATCH_READINGS'),
        /** Subject prefix of the stream (`<prefix>.<lane>.<station>`). */
        subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('tw'),
        /**
         * Replicas of the stream. A PUBACK to a station means the reading is on
         * at least 2 servers (R3 in production: one site can be lost).
         */
        replicas: z.number().int().min(1).max(5).default(3),
        /** How long a publish to the log may take before the edge falls back to its local spool. */
        publishTimeoutMs: z.number().int().positive().default(2_000),
        /** Stream retention: what a target that is down for this long can still catch up on. */
        maxAgeHours: z.number().int().positive().default(7 * 24),
        user: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    postgres: z
      .object({
        /**
         * `postgres://user:pass@host:5432/tidewatch`; unset = the embedded SQLite registry. A URL, checked
         * here: pg reads `notaurl` as a path under the host "base" and failed only at connect (ENOTFOUND base).
         * No host (`postgres:///tidewatch?host=/run/postgresql`) is libpq's default or a socket directory.
         */
        url: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL, e.g. postgres://tidewatch@10.0.0.5:5432/tidewatch' }).optional(),
        poolMax: z.number().int().positive().default(10),
      })
      .prefault({}),
  })
  .prefault({}),
)

export type ClusterConfig = z.infer<typeof ClusterConfigSchema>
