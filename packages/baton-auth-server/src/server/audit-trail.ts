/**
 * The service's audit trail: each event the engine, the handler and the authorization server
 * record (`createBaton`'s `audit` sink) counted in `baton_audit_events_total`, then written where
 * `BATON_AUDIT_LOG` says. A worker of BATON_WORKERS hands its lines to the primary over IPC
 * (batched per turn of the event loop); the primary alone writes the file and rotates it, so
 * lines of several processes never interleave (`audit-log.ts`).
 */
import type { AuditEvent, AuditSink } from 'baton-auth';
import { openAuditLog } from './audit-log.ts';
import type { AuditLog } from './audit-log.ts';
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
  const log: Pick<AuditLog, 'write' | 'close'> =
    target.to === 'off' ? { write: () => undefined, close: () => undefined } : link === undefined ? openAuditLog(target) : viaPrimary(link);
  return {
    sink: (event) => {
      metrics?.countAudit(event);
      log.write(event);
    },
    close: () => log.close(),
  };
}

/** A worker's lines, sent to the primary once per turn of the event loop. */
function viaPrimary(link: WorkerLink): Pick<AuditLog, 'write' | 'close'> {
  let pending: string[] = [];
  const send = (): void => {
    const lines = pending;
    pending = [];
    if (lines.length > 0) link.audit(lines);
  };
  return {
    write: (event: AuditEvent) => {
      if (pending.push(JSON.stringify(event)) === 1) setImmediate(send);
    },
    close: send,
  };
}
