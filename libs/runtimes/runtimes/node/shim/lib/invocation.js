'use strict';
/** Runs one invocation: the handler with its input and context, its result turned into a response. */
const { toResponse } = require('./contract');
const { withContext } = require('./sdk-bridge');

function makeContext(fn, ctx) {
  const deadline = typeof ctx.deadline === 'number' ? ctx.deadline : Date.now() + (fn.timeoutMs || 30000);
  return {
    invocationId: ctx.invocationId,
    functionId: fn.functionId,
    functionName: fn.label,
    functionVersion: fn.version,
    memoryLimitInMB: fn.memoryMb,
    deadline,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** What a thrown value says about itself, for the FAILURE event and the 500 answer. */
function describeError(err) {
  if (err instanceof Error) {
    return { name: err.name || 'Error', message: err.message, stack: err.stack, code: typeof err.code === 'string' ? err.code : undefined };
  }
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    message = String(err);
  }
  return { name: 'Error', message: `non-Error value thrown: ${message}` };
}

/**
 * Resolves to {ok: true, response} or {ok: false, error}; never rejects. A response bigger than
 * `maxResponseBytes` is an error naming the limit (the worker never sends it).
 */
async function invoke(handler, input, fn, ctx) {
  let response;
  try {
    const context = makeContext(fn, ctx);
    const result = await withContext(context, () => handler(input, context));
    response = toResponse(result);
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
  const limit = fn.maxResponseBytes;
  if (limit && response.body.length > limit) {
    return {
      ok: false,
      error: {
        name: 'ResponseTooLarge',
        code: 'RESPONSE_TOO_LARGE',
        message: `the function's response of ${response.body.length} bytes exceeds its limit of ${limit} bytes (resources.maxResponseBytes)`,
      },
    };
  }
  return { ok: true, response };
}

module.exports = { invoke, describeError, makeContext };
