import { isMap, isScalar, isSeq, LineCounter, Node, parseDocument, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { UsageError } from '../errors';
import { substituteVariables, SubstitutionError } from './substitute';

/** A problem in a file the user wrote, named by file, line and field: "function.yaml:7: resources.memory: ...". */
export class ManifestError extends UsageError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${field ? `${field}: ` : ''}${problem}`);
  }
}

/** One value of the document with where it is, so every complaint can point at its line. */
export interface Located {
  node: Node | null;
  /** The key's node, for errors on a key or on a key without a value. */
  keyNode?: Node | null;
  path: string;
}

/**
 * Reads a YAML document node by node, keeping line numbers, and substitutes ${VAR} in every string scalar as
 * it is read (so a substituted value is checked like a written one, and errors point at the line it came from).
 */
export class YamlReader {
  private readonly lines = new LineCounter();
  readonly root: Located;

  constructor(
    readonly file: string,
    text: string,
    private readonly env: Record<string, string | undefined>,
  ) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    const first = doc.errors[0];
    if (first) {
      const line = first.linePos?.[0]?.line ?? this.lineAt(first.pos?.[0] ?? 0);
      throw new ManifestError(file, line, '', `not valid YAML: ${first.message.split('\n')[0]}`);
    }
    this.root = { node: (doc.contents as Node | null) ?? null, path: '' };
  }

  lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  lineOf(at: Located): number {
    const node = at.node ?? at.keyNode;
    return node?.range ? this.lineAt(node.range[0]) : 1;
  }

  fail(at: Located, problem: string): never {
    throw new ManifestError(this.file, this.lineOf(at), at.path, problem);
  }

  isNull(at: Located): boolean {
    return at.node === null || (isScalar(at.node) && at.node.value === null);
  }

  isMapping(at: Located): boolean {
    return isMap(at.node);
  }

  /** Entries of a mapping; unknown keys are errors naming the known ones. */
  entries(at: Located, known?: readonly string[]): Map<string, Located> {
    if (!isMap(at.node)) this.fail(at, `expected a mapping (key: value)${at.path ? '' : ' at the top of the file'}`);
    const out = new Map<string, Located>();
    for (const pair of (at.node as YAMLMap<Node, Node | null>).items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const path = at.path ? `${at.path}.${key}` : String(key);
      if (key === undefined) this.fail({ node: keyNode, path: at.path }, 'keys must be plain names');
      if (known && !known.includes(key)) {
        this.fail({ node: keyNode, path }, `unknown key (expected one of: ${known.join(', ')})`);
      }
      out.set(key, { node: pair.value ?? null, keyNode, path });
    }
    return out;
  }

  items(at: Located): Located[] {
    if (!isSeq(at.node)) this.fail(at, 'expected a list (- item)');
    return (at.node as YAMLSeq<Node | null>).items.map((node, i) => ({ node: node ?? null, path: `${at.path}[${i}]` }));
  }

  /** A scalar's value, strings with ${VAR} substituted. */
  scalar(at: Located): string | number | boolean | null {
    if (!isScalar(at.node)) this.fail(at, 'expected a single value, not a list or mapping');
    const value = (at.node as Scalar).value;
    if (typeof value === 'string') {
      try {
        return substituteVariables(value, this.env);
      } catch (err) {
        if (err instanceof SubstitutionError) this.fail(at, err.message);
        throw err;
      }
    }
    if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
    this.fail(at, `unsupported value ${JSON.stringify(value)}`);
  }

  string(at: Located, example?: string): string {
    const v = this.scalar(at);
    if (typeof v !== 'string') this.fail(at, `expected text${example ? `, e.g. ${example}` : ''}, got ${show(v)}`);
    return v;
  }

  /** Numbers, booleans and strings alike as text: environment values, labels. */
  text(at: Located): string {
    const v = this.scalar(at);
    if (v === null) this.fail(at, 'has no value (write "" for an empty one)');
    return String(v);
  }

  int(at: Located, min: number, max: number): number {
    const v = this.scalar(at);
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(at, `${show(v)} is not a whole number from ${min} to ${max}`);
    }
    return n;
  }

  bool(at: Located): boolean {
    const v = this.scalar(at);
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    this.fail(at, `${show(v)} is not true or false`);
  }

  /** Converts a scalar with `parse`, failing with "'x' is not <what>" when it returns undefined or is out of range. */
  measure(at: Located, parse: (v: string | number) => number | undefined, what: string, min: number, max: number, format: (n: number) => string): number {
    const v = this.scalar(at);
    const n = typeof v === 'string' || typeof v === 'number' ? parse(v) : undefined;
    if (n === undefined) this.fail(at, `${show(v)} is not ${what}`);
    if (n < min || n > max) this.fail(at, `${show(v)} is out of range (${format(min)} to ${format(max)})`);
    return n;
  }

  /** Any YAML value as plain data (schedule trigger data), strings substituted. */
  plain(at: Located): unknown {
    if (this.isNull(at)) return null;
    if (isMap(at.node)) return Object.fromEntries([...this.entries(at)].map(([k, v]) => [k, this.plain(v)]));
    if (isSeq(at.node)) return this.items(at).map((item) => this.plain(item));
    return this.scalar(at);
  }
}

export function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  return typeof v === 'string' ? `'${v}'` : String(v);
}
