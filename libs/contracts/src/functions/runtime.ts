import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * A runtime's name as stored with a function ("node", "python"): the name of a runtime descriptor, the folder
 * libs/runtimes/runtimes/<name>/. The list of runtimes is the code's (RUNTIMES in @platform/runtimes), not this
 * package's nor the database's; the version a user names (python3.9, nodejs20) is kept as given.
 */
export type RuntimeFamily = string;

/** A template of a runtime ("typescript", "python"): the descriptors list them. */
export type TemplateName = string;

/** What `runtime` must look like before the registry looks it up among the runtimes (GET /api/v1/runtimes). */
export const RUNTIME_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._+-]{0,39}$/;
export const TEMPLATE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;

/**
 * How many invocations one worker of a runtime takes at once when scaling.concurrency is not set: `event-loop`
 * (many, by memory: Node), `one` (a process per request), `one-or-event-loop` (Python: one for a plain handler,
 * an event loop's worth for an `async def` one; the shim knows which).
 */
export type ConcurrencyModel = 'event-loop' | 'one' | 'one-or-event-loop';

/** What a function's runtime name resolved to on this platform. */
export class ResolvedRuntime {
  @ApiProperty({ example: 'python', description: 'The runtime (language) it runs on: a name from GET /api/v1/runtimes.' })
  language: string;

  @ApiProperty({ example: 'python3.9', description: 'The runtime as the function names it.' })
  requested: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '3.11.2',
    description: 'The exact version of the interpreter it runs on; null when none can run it here (see warning).',
  })
  version: string | null;

  @ApiPropertyOptional({
    example: 'Python 3.9 is not installed here: "python3.9" runs on Python 3.11.2, the nearest newer version',
    description: 'Set when the version asked for is not installed and a newer one runs the function instead (or none can).',
  })
  warning?: string;
}

export class RuntimeVersionView {
  @ApiProperty({ example: '3.11.2' })
  version: string;

  @ApiProperty({ type: [String], example: ['/usr/bin/python3'], description: 'The executables of this version found on the platform.' })
  executables: string[];
}

/** One runtime, as GET /api/v1/runtimes lists it. */
export class RuntimeView {
  @ApiProperty({ example: 'python', description: 'Its name (the `family` of its functions).' })
  name: string;

  @ApiProperty({ example: 'Python' })
  title: string;

  @ApiProperty({ type: [String], example: ['python', 'python3', 'python3.11'], description: 'Runtime names a function may give, with or without a version.' })
  aliases: string[];

  @ApiProperty({ type: String, nullable: true, example: '3.11.2', description: 'What a runtime name without a version runs on; null when none is installed.' })
  defaultVersion: string | null;

  @ApiProperty({ type: [RuntimeVersionView], description: 'The versions installed, newest first.' })
  versions: RuntimeVersionView[];

  @ApiProperty({ example: '3.8.0', description: 'The oldest version the runtime is offered in.' })
  minimumVersion: string;

  @ApiProperty({ type: [String], example: ['python'] })
  templates: string[];

  @ApiProperty({ example: 'python' })
  defaultTemplate: string;

  @ApiProperty({ example: 'handler.py', description: 'Where handler code sent as such goes.' })
  defaultHandlerFile: string;

  @ApiProperty({ enum: ['event-loop', 'one', 'one-or-event-loop'], description: 'Invocations a worker takes at once by default.' })
  concurrency: ConcurrencyModel;

  @ApiProperty({ description: 'Whether generic workers are started ahead of cold starts.' })
  prewarm: boolean;

  @ApiProperty({ type: String, nullable: true, example: 'from hexabase import get_secret', description: 'How a handler reaches the function SDK.' })
  sdk: string | null;
}
