import { urlProblem, verifyJsonBody } from './request-text';

describe('request text the gateway refuses', () => {
  it.each([
    '/api/v1/functions/%00',
    '/api/v1/functions/a%00b/builds',
    '/api/v1/functions?label=%00',
    '/api/v1/functions/%ff',
    '/api/v1/functions/%E0%A4%A',
    '/x?a=%zz',
  ])('refuses %s', (url) => {
    expect(urlProblem(url)).toMatch(/NUL|percent-encoding/);
  });

  it.each(['/api/v1/functions', '/api/v1/functions/my-fn?limit=10&label=caf%C3%A9', '/fn/x/y?q=a+b'])('accepts %s', (url) => {
    expect(urlProblem(url)).toBeUndefined();
  });

  it('refuses a JSON body nested deeper than the limit with a 400 naming it', () => {
    expect(() => verifyJsonBody({} as never, {}, Buffer.from('['.repeat(5000) + ']'.repeat(5000)))).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining('deeper than 64 levels') }),
    );
    expect(() => verifyJsonBody({} as never, {}, Buffer.from('{"a":[1,{"b":2}]}'))).not.toThrow();
  });
});
