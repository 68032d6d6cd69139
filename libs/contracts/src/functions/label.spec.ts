import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateFunctionDto } from './function.dto';
import { FUNCTION_REF_PATTERN } from '../events/event-rpc.dto';
import { functionInvokePath, functionUrls, LABEL_PATTERN, labelProblem, RESERVED_LABELS } from './label';

const RULE = 'a label is 1-63 lowercase letters, digits or dashes, starting with a letter and ending with a letter or digit';

describe('function labels', () => {
  it.each(['a', 'hello', 'hello-world', 'fn-2', 'a'.repeat(63), 'builds', 'invoker', 'swagger'])('accepts %s', (label) => {
    expect(labelProblem(label)).toBeUndefined();
    expect(LABEL_PATTERN.test(label)).toBe(true);
  });

  it.each([
    ['invoke', 'label "invoke" is reserved: /api/v1/functions/invoke/... is the invoke route; choose another label'],
    ['build', 'label "build" is reserved: /api/v1/functions/build/... is the build route; choose another label'],
    ['deploy', 'label "deploy" is reserved: /api/v1/functions/deploy/... is the deploy route; choose another label'],
    ['swagger-ui', 'label "swagger-ui" is reserved: /api/v1/functions/swagger-ui is the API documentation; choose another label'],
    ['swagger-ui-json', 'label "swagger-ui-json" is reserved: /api/v1/functions/swagger-ui-json is the API document; choose another label'],
    ['swagger-ui-yaml', 'label "swagger-ui-yaml" is reserved: /api/v1/functions/swagger-ui-yaml is the API document; choose another label'],
  ])('reserves %s, naming the route that owns it', (label, message) => {
    expect(labelProblem(label)).toBe(message);
  });

  it('reserves exactly the words listed in RESERVED_LABELS', () => {
    expect(Object.keys(RESERVED_LABELS).sort()).toEqual(['build', 'deploy', 'invoke', 'swagger-ui', 'swagger-ui-json', 'swagger-ui-yaml']);
  });

  it.each([
    ['9lives', `label must start with a lowercase letter, not "9" (${RULE}, so Knative takes it as a Service name)`],
    ['-x', `label must start with a lowercase letter, not "-" (${RULE}, so Knative takes it as a Service name)`],
    ['Hello', `label must start with a lowercase letter, not "H" (${RULE}, so Knative takes it as a Service name)`],
    ['hEllo', `label may contain only lowercase letters, digits and dashes, not "E" (${RULE})`],
    ['my_fn', `label may contain only lowercase letters, digits and dashes, not "_" (${RULE})`],
    ['my.fn', `label may contain only lowercase letters, digits and dashes, not "." (${RULE})`],
    ['fn-', `label must end with a letter or digit, not "-" (${RULE})`],
    ['a'.repeat(64), `label must be at most 63 characters, it has 64 (${RULE}: Knative names a Service after it)`],
    ['', `label must be a non-empty string (${RULE})`],
  ])('refuses %j saying why', (label, message) => {
    expect(labelProblem(label)).toBe(message);
    expect(LABEL_PATTERN.test(label)).toBe(false);
  });

  it('validates CreateFunctionDto.label with the same message', () => {
    const errors = validateSync(plainToInstance(CreateFunctionDto, { label: '1st', runtime: 'node', handler: 'x' }));
    expect(errors.map((e) => Object.values(e.constraints ?? {})).flat()).toEqual([labelProblem('1st')]);
  });

  it('still finds functions by the labels of before (a leading digit) and by reserved words', () => {
    expect(FUNCTION_REF_PATTERN.test('1st-fn')).toBe(true);
    expect(FUNCTION_REF_PATTERN.test('invoke')).toBe(true);
  });
});

describe('functionUrls: where /fn/ serves a function', () => {
  it('is /fn/{label} for a function with no triggers (any method and path)', () => {
    expect(functionUrls('hello', undefined)).toEqual(['/fn/hello']);
    expect(functionUrls('hello', [])).toEqual(['/fn/hello']);
  });

  it('is /fn/{label} and the path of each http trigger, once each', () => {
    expect(functionUrls('shop', [{ type: 'http' }, { type: 'schedule' }])).toEqual(['/fn/shop']);
    expect(functionUrls('shop', [{ type: 'http', path: '/' }])).toEqual(['/fn/shop']);
    const paths = [{ type: 'http', path: '/api/hello' }, { type: 'queue' }, { type: 'http', path: '/items/{id}' }, { type: 'http', path: '/api/hello' }];
    expect(functionUrls('shop', paths)).toEqual(['/fn/shop/api/hello', '/fn/shop/items/{id}']);
  });

  it('is nothing for a function with triggers but no http trigger (the gateway answers 404 on /fn/)', () => {
    expect(functionUrls('nightly', [{ type: 'schedule' }, { type: 'nats' }])).toEqual([]);
  });

  it('gives the invoke route by id or label instead', () => {
    expect(functionInvokePath('nightly')).toBe('/api/v1/functions/invoke/nightly');
  });
});
