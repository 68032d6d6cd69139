export const SECRET_MASK = '***';

/**
 * Replaces the values of a function's secrets in text the platform records (captured logs, error messages).
 * Longest first, so a secret that contains another is masked whole.
 */
export class SecretMask {
  private readonly values: string[];

  constructor(env: Record<string, string>, secretNames: readonly string[]) {
    const values = secretNames.map((n) => env[n]).filter((v): v is string => typeof v === 'string' && v.length > 0);
    this.values = [...new Set(values)].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  apply(text: string): string;
  apply(text: string | undefined): string | undefined;
  apply(text: string | undefined): string | undefined {
    if (!text || this.empty) return text;
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(SECRET_MASK);
    return out;
  }
}
