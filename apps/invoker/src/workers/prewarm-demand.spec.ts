import { PrewarmDemand } from './prewarm-demand';

describe('PrewarmDemand: the prewarm pool is sized by recent cold starts', () => {
  let clock = 0;
  const demand = () => new PrewarmDemand({ min: 2, max: 5, windowMs: 1_000 }, () => clock);

  beforeEach(() => (clock = 10_000));

  it('keeps the minimum while there are fewer cold starts than that', () => {
    const d = demand();
    expect(d.target()).toBe(2);
    d.coldStart();
    expect(d.target()).toBe(2);
  });

  it('grows with the cold starts in the window, up to the maximum', () => {
    const d = demand();
    for (let i = 0; i < 4; i++) d.coldStart();
    expect(d.target()).toBe(4);
    for (let i = 0; i < 10; i++) d.coldStart();
    expect(d.target()).toBe(5);
    expect(d.recent()).toBe(5);
  });

  it('shrinks back to the minimum once the cold starts are older than the window', () => {
    const d = demand();
    for (let i = 0; i < 3; i++) d.coldStart();
    clock += 600;
    d.coldStart();
    d.coldStart();
    expect(d.target()).toBe(5);
    clock += 500;
    expect(d.target()).toBe(2);
    expect(d.recent()).toBe(2);
    clock += 600;
    expect(d.recent()).toBe(0);
  });
});
