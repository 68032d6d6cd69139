import { jsonBytesProblem, jsonDepth, jsonProblem, MAX_JSON_DEPTH } from './json-limits';

describe('JSON limits', () => {
  it('counts nesting without parsing, skipping brackets inside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
    expect(jsonDepth('42')).toBe(0);
  });

  it('refuses nesting deeper than the limit, naming it', () => {
    expect(jsonProblem('['.repeat(5000) + ']'.repeat(5000))).toBe(`the request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
    expect(jsonProblem('{"a":'.repeat(5000))).toContain('deeper than');
    expect(jsonProblem('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBeUndefined();
  });

  it('refuses NUL characters but not the \\u0000 escape', () => {
    expect(jsonProblem('{"a":"x\u0000"}')).toContain('NUL');
    expect(jsonProblem('{"a":"x\\u0000"}')).toBeUndefined();
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(jsonBytesProblem(Buffer.from([0x7b, 0xff, 0x7d]))).toBe('the request body is not valid UTF-8');
    expect(jsonBytesProblem(Buffer.from('{"name":"Zoë"}'))).toBeUndefined();
  });
});
