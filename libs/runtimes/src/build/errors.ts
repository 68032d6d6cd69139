/**
 * A build that cannot succeed because of the user's input (a type error, a missing package, a bad
 * entry point). The message is the one line a person needs; the whole story is in the build log.
 */
export class BuildFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildFailure';
  }
}

/** Receives build output as it happens (streamed into the build record's log, or a terminal). */
export type BuildLogSink = (text: string) => void;
