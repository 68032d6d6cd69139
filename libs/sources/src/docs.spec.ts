import { readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { renderSourcesDoc } from './docs';
import { SOURCES } from './registry';

const FILE = path.resolve(__dirname, '../../../docs/event-sources.md');

describe('docs/event-sources.md', () => {
  it('is what the descriptors say (regenerate: UPDATE_DOCS=1 npx jest libs/sources/src/docs.spec.ts)', () => {
    const rendered = renderSourcesDoc();
    if (process.env.UPDATE_DOCS) writeFileSync(FILE, rendered);
    expect(readFileSync(FILE, 'utf8')).toBe(rendered);
  });

  it('documents every kind, each field of it and its event shape', () => {
    const doc = renderSourcesDoc();
    for (const d of SOURCES) {
      expect(doc).toContain(`## ${d.kind}\n`);
      expect(doc).toContain(d.eventShape);
      for (const f of d.fields) expect(doc).toContain(`\`${f.key}\``);
    }
  });
});
