/**
 * The service's audit trail: each event the engine, the handler and the authorization server
 * record (`createBaton`'s `audit` sink) counted in `baton_audit_events_total`, then written where
 * `BATON_AUDIT_LOG` says. A worker of BATON_WORKERS hands its lines to the primary over IPC
 * (batched per turn of the event loop); the primary alone writes the file and rotates it, so
 * lines of several processes never interleave (`audit-log.ts`).
 */
import type { AuditSink } from 'baton-auth';
import { openAuditLog, relayedLog } from './audit-log.ts';
import type { Metrics } from './ops.ts';
import type { AuditTarget } from './settings/audit.ts';
import type { WorkerLink } from './workers.ts';

/** The sink the engine is given, and what closes it. */
export interface ServiceAudit {
  /** Undefined when nothing would read the events (`off`, and no metrics): the engine then builds none. */
  sink: AuditSink | undefined;
  close(): void;
}

/** The audit trail of one service process (`link`: a worker of BATON_WORKERS). */
export function serviceAudit(target: AuditTarget, metrics: Metrics | undefined, link: WorkerLink | undefined): ServiceAudit {
  if (target.to === 'off' && metrics === undefined) return { sink: undefined, close: () => undefined };
  const log = target.to === 'off' || link === undefined ? openAuditLog(target) : relayedLog((lines) => link.audit(lines));
  return {
    sink: (event) => {
      metrics?.countAudit(event);
      log.write(event);
    },
    close: () => log.close(),
  };
}
