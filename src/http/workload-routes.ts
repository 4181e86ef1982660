/** GET /v1/workload: who carries what and what waits in each queue (supervisors, admins). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { readWorkload } from '../persistence/workload-queries.js';
import type { Database } from '../persistence/schema.js';
import { snakeKeys } from './case-view.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const AgentLoadView = Type.Object({
  user_id: Type.String(),
  display_name: Nullable(Type.String()),
  role: Nullable(Type.String()),
  presence: Nullable(Type.String()),
  teams: Type.Array(Type.String()),
  open_tasks: Type.Integer(),
  units: Type.Record(Type.String(), Type.Object({ used: Type.Integer(), capacity: Nullable(Type.Integer()) }), {
    description: 'Per capacity bucket (a kind of work, or default): units used of capacity',
  }),
  units_used: Type.Integer(),
  units_capacity: Nullable(Type.Integer()),
  oldest_task_age_seconds: Nullable(Type.Integer()),
  tasks_at_risk: Type.Integer({ description: 'Open tasks whose case has an open goal at risk or breached' }),
  tasks_breached: Type.Integer(),
});

const QueueLoadView = Type.Object({
  queue: Type.String(),
  backlog: Type.Integer({ description: 'Open tasks of the queue, held by a person or not' }),
  unassigned: Type.Integer(),
  oldest_task_age_seconds: Nullable(Type.Integer()),
  oldest_unassigned_age_seconds: Nullable(Type.Integer()),
  tasks_at_risk: Type.Integer(),
  agents_available: Type.Integer({ description: 'People with the queue among their teams whose presence is available' }),
});

export const WorkloadView = Type.Object({
  as_of: Type.String(),
  agents: Type.Array(AgentLoadView),
  queues: Type.Array(QueueLoadView),
});

export const workloadRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database> }> = async (app, { db }) => {
  app.get(
    '/v1/workload',
    {
      config: { roles: ['supervisor', 'admin'] },
      schema: {
        tags: ['supervisor'],
        summary: 'Workload: per person open tasks, units of capacity, oldest task, tasks at risk; per queue backlog, oldest, unassigned',
        response: { 200: WorkloadView },
      },
    },
    async () => {
      const load = await readWorkload(db);
      // Bucket names are data (kinds of work), not field names: kept as they are.
      return {
        as_of: load.asOf,
        agents: load.agents.map(({ units, ...rest }) => ({ ...(snakeKeys(rest) as object), units })) as never,
        queues: snakeKeys(load.queues) as never,
      };
    },
  );
};
