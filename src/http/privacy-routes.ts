/**
 * Privacy: right of access (GET /v1/customers/:id/export) and right to erasure
 * (POST /v1/customers/:id/erase). Export: admin or supervisor — supervisors answer access
 * requests in a contact centre and already see every case. Erase: admin only; irreversible.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import { TesseraError } from '../errors.js';
import type { Database } from '../persistence/schema.js';
import { ERASURE_BASES, type Eraser } from '../privacy/erase-personal-data.js';
import { exportCustomer } from '../privacy/export-customer.js';
import { CustomerParams } from './customer-schemas.js';

const ErasureBody = Type.Object(
  {
    basis: Type.Union(ERASURE_BASES.map((b) => Type.Literal(b)), { description: `Lawful basis: one of ${ERASURE_BASES.join(', ')}` }),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (journaled as given: write no personal data here, e.g. a ticket number)' }),
  },
  { additionalProperties: false },
);

const ErasureView = Type.Object({
  erasure_id: Type.String(),
  customer_id: Type.String(),
  status: Type.String(),
  cases: Type.Integer(),
  /** Rows changed per place. */
  counts: Type.Record(Type.String(), Type.Integer()),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

export const privacyRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<Database>; eraser: Eraser; now: () => Date }> = async (app, { db, eraser, now }) => {
  async function mustExist(id: string) {
    const row = await db.selectFrom('customers').select('id').where('id', '=', id).executeTakeFirst();
    if (!row) throw new TesseraError('CUSTOMER_NOT_FOUND', `No customer has id ${id}; GET /v1/customers finds customers by identity`);
  }

  app.get(
    '/v1/customers/:id/export',
    {
      config: { roles: ['admin', 'supervisor'] },
      schema: { tags: ['privacy'], summary: 'Everything held about the customer, across cases, content, journal, inbox and deliveries', params: CustomerParams, response: { 200: Type.Unknown() } },
    },
    async (request, reply) => {
      await mustExist(request.params.id);
      reply.header('content-disposition', `attachment; filename="customer-${request.params.id}.json"`);
      return exportCustomer(db, request.params.id, now());
    },
  );

  app.post(
    '/v1/customers/:id/erase',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['privacy'], summary: "Erase the customer's personal data everywhere; cases keep their skeleton", params: CustomerParams, body: ErasureBody, response: { 200: ErasureView } },
    },
    async (request) => {
      await mustExist(request.params.id);
      const result = await eraser.erase({
        trigger: 'request',
        customerId: request.params.id,
        basis: request.body.basis,
        reason: request.body.reason,
        requestedBy: { id: request.principal.userId, role: request.principal.role },
      });
      return { erasure_id: result.id, customer_id: request.params.id, status: result.status, cases: result.caseIds.length, counts: result.counts, finished_at: result.finishedAt };
    },
  );
};
