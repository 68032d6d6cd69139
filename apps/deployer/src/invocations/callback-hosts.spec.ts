import { callbackHostProblem } from './callback-hosts';

describe('callbackHostProblem (DEPLOYER_CALLBACK_ALLOWED_HOSTS)', () => {
  it('allows any host when the setting is empty', () => {
    expect(callbackHostProblem('http://127.0.0.1:9/x', '')).toBeUndefined();
    expect(callbackHostProblem('http://127.0.0.1:9/x', ' , ')).toBeUndefined();
  });

  it('allows exact hosts and subdomains of "*." entries, whatever their case, and nothing else', () => {
    const allowed = 'hooks.example.com, *.Example.org';
    expect(callbackHostProblem('https://HOOKS.example.com/a', allowed)).toBeUndefined();
    expect(callbackHostProblem('https://a.b.example.org:8443/a', allowed)).toBeUndefined();
    expect(callbackHostProblem('https://example.org/a', allowed)).toMatch(/names host example\.org, which this platform does not call back/);
    expect(callbackHostProblem('https://evilexample.org/a', allowed)).toMatch(/evilexample\.org/);
    expect(callbackHostProblem('http://127.0.0.1:8080/internal', allowed)).toMatch(
      /^X-Callback-Url names host 127\.0\.0\.1, .*\(DEPLOYER_CALLBACK_ALLOWED_HOSTS: hooks\.example\.com, \*\.example\.org\)$/,
    );
    expect(callbackHostProblem('http://[::1]:8080/', allowed)).toMatch(/names host ::1/);
  });

  it('says so when the URL is not one', () => {
    expect(callbackHostProblem('not a url', 'a.example.com')).toMatch(/is not an absolute URL/);
  });
});
