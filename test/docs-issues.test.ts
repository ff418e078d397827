import fs from 'node:fs';
import path from 'node:path';
import { renderIssueDocs } from '../scripts/issue-docs';
import { ISSUE_CATALOGUE } from '../model/issue-catalogue';

describe('docs/issues.md', () => {
  it('is the page generated from the issue catalogue (run `npm run docs` after changing the catalogue)', () => {
    const onDisk = fs.readFileSync(path.join(__dirname, '..', 'docs', 'issues.md'), 'utf8');
    expect(onDisk).toBe(renderIssueDocs());
  });

  it('lists every issue code once', () => {
    const codes = ISSUE_CATALOGUE.map((d) => d.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).toEqual(expect.arrayContaining(['F01', 'F07', 'E10', 'E21', 'E30', 'E32', 'A40', 'A42', 'W50', 'W53']));
  });
});
