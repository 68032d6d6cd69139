import type { InvocationReply, WorkerExitedError } from '@platform/runtimes';
import { failure, InvocationOutcome } from '../invocations/outcome';
import type { ExitReport, LaunchFailure } from '../workers/worker-launcher';
import type { PoolSpec } from './function-pool';

/** What the handler answered (or threw), as the invocation's outcome. */
export function replyOutcome(spec: PoolSpec, reply: InvocationReply): InvocationOutcome {
  if (reply.ok) {
    return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body, json: reply.json, logs: reply.logs, coldStart: false, startMs: null };
  }
  const e = reply.error;
  if (e.code === 'RESPONSE_TOO_LARGE') return failure(502, `function ${spec.label}: ${e.message}`, 'payload-too-large', { logs: reply.logs });
  // The stack goes with the logs: the answer and the event's error stay one readable line.
  const logs = e.stack ? `${reply.logs}${reply.logs && !reply.logs.endsWith('\n') ? '\n' : ''}${e.stack}` : reply.logs;
  return failure(500, `function ${spec.label} failed: ${e.name}: ${e.message}`, 'error', { logs });
}

/**
 * Why an invocation ended with its worker: its own time limit (504), the memory limit (502), another
 * invocation's time limit on the same worker, a protocol violation or a crash (502).
 */
export function exitOutcome(spec: PoolSpec, report: ExitReport, err: WorkerExitedError, timedOut: boolean, otherTimedOut: boolean): InvocationOutcome {
  const logs = err.logs ?? '';
  const { memoryMb, timeoutMs, maxProcesses } = spec.config.resources;
  const label = spec.label;
  const processes = report.processLimitHit ? `; it had reached its process limit of ${maxProcesses} (resources.maxProcesses)` : '';
  if (timedOut) {
    return failure(
      504,
      `function ${label} did not finish within its time limit of ${timeoutMs} ms (resources.timeoutMs); its worker was stopped${processes}`,
      'timeout',
      { logs },
    );
  }
  if (report.oomKilled) {
    return failure(502, `function ${label} exceeded its memory limit of ${memoryMb} MB (resources.memoryMb); its worker was stopped`, 'memory', { logs });
  }
  if (otherTimedOut) {
    return failure(502, `the worker of function ${label} was stopped because another invocation on it ran past the time limit of ${timeoutMs} ms`, 'crash', {
      logs,
    });
  }
  const how = err.protocolProblem ?? `exited unexpectedly (${report.exit.signal ? `signal ${report.exit.signal}` : `exit code ${report.exit.code}`})`;
  return failure(502, `the worker running function ${label} ${how}${processes}`, 'crash', { logs });
}

/** A worker that could not be started or given the function: a broken function (500) or no room (503). */
export function launchFailureOutcome(label: string, err: LaunchFailure): InvocationOutcome {
  if (err.kind === 'load' || err.kind === 'memory') {
    return failure(500, `function ${label} could not be loaded: ${err.message}`, err.kind === 'memory' ? 'memory' : 'error');
  }
  return failure(503, `no worker could be started for function ${label}: ${err.message}`, 'crash');
}
