/**
 * Every error the CLI reports carries the exit code it ends with: 2 when the user has to change what they
 * typed or wrote (flags, function.yaml), 1 when an operation failed (the gateway said no, a build failed).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags, arguments or files: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The gateway answered with an error status; the message is the platform's own. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message, 1);
  }
}

/** No HTTP answer at all: refused, unknown host, timed out. */
export class GatewayUnreachableError extends CliError {
  constructor(message: string) {
    super(message, 1);
  }
}
