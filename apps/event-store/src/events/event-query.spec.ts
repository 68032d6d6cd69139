import { EventQueryDto, ValidationError } from '@platform/contracts';
import { buildEventQuery } from './event-query';

const FN = '7f2c1b9e-3c1a-4d55-9b7e-0a6f1c2d3e4f';
const INV = '0b8e5a41-2f3d-4c6b-8a9e-1d2c3b4a5f60';

function q(fields: Partial<EventQueryDto>): EventQueryDto {
  return Object.assign(new EventQueryDto(), fields);
}

describe('buildEventQuery', () => {
  it('reads the newest 50 events of everything by default', () => {
    const plan = buildEventQuery(q({}));
    expect(plan.sql).not.toContain('WHERE');
    expect(plan.sql).toMatch(/ORDER BY timestamp DESC, id DESC LIMIT \$1 OFFSET \$2$/);
    expect(plan.params).toEqual([50, 0]);
    expect(plan.countSql).toBe('SELECT count(*) AS total FROM events.events');
    expect(plan.countParams).toEqual([]);
    expect({ page: plan.page, limit: plan.limit }).toEqual({ page: 1, limit: 50 });
  });

  it('combines every filter with AND, each value as a parameter in order', () => {
    const plan = buildEventQuery(
      q({
        functionId: FN.toUpperCase(),
        invocationId: INV,
        type: 'FUNCTION_INVOCATION',
        status: 'FAILURE',
        from: '2026-01-31T12:00:00+01:00',
        to: '2026-01-31T13:00:00Z',
      }),
    );
    expect(plan.sql).toContain('WHERE function_id = $1 AND invocation_id = $2 AND type = $3 AND status = $4 AND timestamp >= $5 AND timestamp < $6');
    expect(plan.countParams).toEqual([FN, INV, 'FUNCTION_INVOCATION', 'FAILURE', '2026-01-31T11:00:00.000Z', '2026-01-31T13:00:00.000Z']);
    expect(plan.params.slice(-2)).toEqual([50, 0]);
    expect(plan.sql).toContain('LIMIT $7 OFFSET $8');
    expect(plan.countSql).toContain('WHERE function_id = $1 AND invocation_id = $2');
  });

  it('turns page and limit into an offset, and orders oldest first on request', () => {
    const plan = buildEventQuery(q({ page: 3, limit: 20, order: 'asc' }));
    expect(plan.params).toEqual([20, 40]);
    expect(plan.sql).toContain('ORDER BY timestamp ASC, id ASC');
    expect({ page: plan.page, limit: plan.limit }).toEqual({ page: 3, limit: 20 });
  });

  it('uses only a lower time bound when only from is given', () => {
    const plan = buildEventQuery(q({ from: '2026-01-31' }));
    expect(plan.sql).toContain('WHERE timestamp >= $1 ORDER BY');
    expect(plan.countParams).toEqual(['2026-01-31T00:00:00.000Z']);
  });

  it('never puts a value into the SQL text', () => {
    const plan = buildEventQuery(q({ type: "OTHER' OR '1'='1" as never }));
    expect(plan.sql).not.toContain("'1'='1");
    expect(plan.countParams).toEqual(["OTHER' OR '1'='1"]);
  });

  it('rejects a time range whose from is not before its to, naming both', () => {
    expect(() => buildEventQuery(q({ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }))).toThrow(
      new ValidationError('from (2026-02-01T00:00:00.000Z) must be before to (2026-01-01T00:00:00.000Z)'),
    );
  });

  it('rejects ISO-8601 forms Postgres cannot read, naming the field', () => {
    expect(() => buildEventQuery(q({ to: '2026-W05' }))).toThrow(/^to must be an ISO-8601 date-time/);
  });

  it('rejects a page so far out that its offset is not a safe integer', () => {
    expect(() => buildEventQuery(q({ page: 1e300, limit: 500 }))).toThrow(/page is too large/);
  });
});
