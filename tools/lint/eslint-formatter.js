'use strict';
/**
 * ESLint's findings one a line, `path:line:col  rule  message` (editors and terminals open path:line), then a count;
 * nothing when there is none. Used by `npm run lint`.
 */
const path = require('path');

module.exports = (results) => {
  const lines = [];
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    for (const m of r.messages) {
      if (m.severity === 2) errors++;
      else warnings++;
      const where = `${path.relative(process.cwd(), r.filePath)}:${m.line ?? 0}:${m.column ?? 0}`;
      lines.push(`${where}  ${m.ruleId ?? (m.fatal ? 'parse error' : 'eslint')}  ${m.message.split('\n')[0]}`);
    }
  }
  if (!lines.length) return '';
  lines.push(`${errors} error(s), ${warnings} warning(s) (warnings fail too); some are fixed by npm run lint -- --fix`);
  return `${lines.join('\n')}\n`;
};
