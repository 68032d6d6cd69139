import { SecretMask } from './secret-mask';

describe('SecretMask', () => {
  it("replaces every occurrence of each secret's value, and only the secrets' values", () => {
    const mask = new SecretMask({ TOKEN: 'tok-123', MODE: 'debug', PASSWORD: 'hunter2' }, ['TOKEN', 'PASSWORD']);
    expect(mask.apply('token tok-123 twice tok-123, password hunter2, mode debug')).toBe('token *** twice ***, password ***, mode debug');
  });

  it('masks a secret that contains another as a whole', () => {
    const mask = new SecretMask({ A: 'abc', B: 'xxabcxx' }, ['A', 'B']);
    expect(mask.apply('[xxabcxx] [abc]')).toBe('[***] [***]');
  });

  it('leaves text alone when there are no secrets, or their values are empty', () => {
    expect(new SecretMask({ A: '' }, ['A', 'MISSING']).apply('nothing to hide')).toBe('nothing to hide');
    expect(new SecretMask({}, []).empty).toBe(true);
  });
});
