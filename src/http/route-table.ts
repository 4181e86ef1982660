/**
 * The routes an app registered, with the access each declares. Tests enumerate it so that a
 * route added without an authorization expectation fails the matrix test
 * (test/api/authorization-matrix.test.ts); it also answers "what does this build serve".
 */
import type { FastifyInstance, FastifySchema, HTTPMethods } from 'fastify';
import type { Role } from '../cases/types.js';

export interface RegisteredRoute {
  method: HTTPMethods;
  /** As registered, e.g. `/v1/cases/:id`. */
  url: string;
  public: boolean;
  roles: readonly Role[] | undefined;
  schema: FastifySchema | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered so far (one entry per method). */
    readonly routeTable: readonly RegisteredRoute[];
  }
}

/** Call first in buildApp: an onRoute hook sees only routes registered after it. */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method: method as HTTPMethods, url: route.url, public: route.config?.public === true, roles: route.config?.roles, schema: route.schema });
    }
  });
}
