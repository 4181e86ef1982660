/**
 * The worker side of a process (roles all and worker): registers job processors on the queue.
 * Each processor ends by dispatching a command; the HTTP side never runs jobs itself.
 */
import type { Logger } from 'pino';
import type { Platform } from './platform/platform.js';

export interface Workers {
  close(): Promise<void>;
}

export async function startWorkers(platform: Platform, logger: Logger): Promise<Workers> {
  logger.info({ jobs: platform.jobs.kind }, 'workers started');
  return {
    async close() {
      // Processors are closed with the job queue (platform.close), which waits for running jobs.
    },
  };
}
