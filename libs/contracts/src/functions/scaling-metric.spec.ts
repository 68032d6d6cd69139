import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { effectiveConfig, FunctionConfigDto, scalingTarget } from './function-config.dto';
import { knativeConfigProblems, scalingMetricProblems } from './knative-limits';

const dtoMessages = (config: unknown) =>
  validateSync(plainToInstance(FunctionConfigDto, config)).flatMap((e) => (e.children ?? []).flatMap((c) => Object.values(c.constraints ?? {})));

describe('config.scaling.metric, target and customMetric', () => {
  it('accepts every metric with a fitting target', () => {
    for (const scaling of [
      { metric: 'concurrency', target: 10 },
      { metric: 'rps', target: 5 },
      { metric: 'rps', target: 0.5 },
      { metric: 'cpu', target: 70 },
      { metric: 'memory', target: 100 },
      { metric: 'custom', target: 20, customMetric: 'queue_backlog' },
    ]) {
      expect(dtoMessages({ scaling })).toEqual([]);
      expect(scalingMetricProblems({ scaling })).toEqual([]);
    }
  });

  it('refuses an unknown metric, a target out of range and a name Prometheus would not take, naming the field', () => {
    expect(dtoMessages({ scaling: { metric: 'latency' } })).toEqual(['scaling.metric must be one of concurrency, rps, cpu, memory, custom']);
    expect(dtoMessages({ scaling: { target: 0 } })).toEqual([expect.stringContaining('target must not be less than 0.01')]);
    expect(dtoMessages({ scaling: { target: 'ten' } })).toEqual(expect.arrayContaining(['scaling.target must be a number']));
    expect(dtoMessages({ scaling: { metric: 'custom', target: 1, customMetric: '9lives' } })).toEqual([
      expect.stringContaining('scaling.customMetric must be a Prometheus-style name'),
    ]);
  });

  it('needs customMetric and target with custom, and customMetric only then', () => {
    expect(scalingMetricProblems({ scaling: { metric: 'custom' } })).toEqual([
      expect.stringContaining('config.scaling.customMetric is required when scaling.metric is "custom"'),
      expect.stringContaining('config.scaling.target is required when scaling.metric is "custom"'),
    ]);
    expect(scalingMetricProblems({ scaling: { metric: 'rps', customMetric: 'x' } })).toEqual([
      expect.stringContaining('config.scaling.customMetric is only for scaling.metric "custom" (metric is "rps")'),
    ]);
    expect(scalingMetricProblems({ scaling: { customMetric: 'x' } })).toEqual([expect.stringContaining('(metric is "concurrency")')]);
  });

  it('keeps cpu to a percentage, memory under the limit and concurrency whole, through the rules the API applies', () => {
    expect(knativeConfigProblems({ scaling: { metric: 'cpu', target: 150 } })).toEqual([expect.stringContaining('target 150 is more than 100')]);
    expect(knativeConfigProblems({ scaling: { metric: 'memory', target: 200 } })).toEqual([
      expect.stringContaining('target 200 MiB is more than resources.memoryMb (128)'),
    ]);
    expect(knativeConfigProblems({ resources: { memoryMb: 256 }, scaling: { metric: 'memory', target: 200 } })).toEqual([]);
    expect(knativeConfigProblems({ scaling: { target: 2.5 } })).toEqual([expect.stringContaining('must be a whole number with metric "concurrency"')]);
  });

  it('fills the metric and its default target in', () => {
    const of = (scaling: FunctionConfigDto['scaling'], memoryMb = 128) => {
      const c = effectiveConfig({ scaling, resources: { memoryMb } }, 'event-loop');
      return [c.scaling.metric, scalingTarget(c.scaling, memoryMb)];
    };
    expect(of({})).toEqual(['concurrency', 64]);
    expect(of({ concurrency: 4 })).toEqual(['concurrency', 4]);
    expect(of({ metric: 'rps' })).toEqual(['rps', 200]);
    expect(of({ metric: 'cpu' })).toEqual(['cpu', 80]);
    expect(of({ metric: 'memory' }, 256)).toEqual(['memory', 204]);
    expect(of({ metric: 'rps', target: 5 })).toEqual(['rps', 5]);
    expect(effectiveConfig({ scaling: { metric: 'custom', target: 3, customMetric: 'q' } }, 'event-loop').scaling).toMatchObject({
      metric: 'custom',
      target: 3,
      customMetric: 'q',
    });
  });
});
