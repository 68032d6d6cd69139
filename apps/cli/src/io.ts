/**
 * Everything a command touches outside itself, so the same code runs as the `hks` binary and in tests
 * (in-process, against a fake gateway) without patching globals.
 */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether a person is at the keyboard (delete asks for confirmation only then). */
  interactive: boolean;
  /** Asks a yes/no question; only called when `interactive`. */
  confirm: (question: string) => Promise<boolean>;
  /** Aborted on Ctrl-C, so `--follow` can stop cleanly. */
  signal?: AbortSignal;
  /** How often progress is polled; tests make it short. */
  pollIntervalMs?: number;
}

export function processIO(signal?: AbortSignal): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    confirm: async (question) => {
      const readline = await import('readline/promises');
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
    signal,
  };
}
