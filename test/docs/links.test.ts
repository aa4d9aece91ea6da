import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

// The README is a quick start that links into docs/; a moved section or renamed heading must not
// leave a link pointing nowhere.
const root = join(__dirname, '..', '..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(page: string): Set<string> {
  const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set(
    [...text.matchAll(/^#+ (.*)$/gm)].map((m) =>
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('links between the README and docs/', () => {
  it.each(pages)('every relative link in %s reaches a file and, for a page, a heading', (page) => {
    const text = readFileSync(join(root, page), 'utf8');
    const broken: string[] = [];
    for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#');
      const target = path ? normalize(join(dirname(page), path)) : page;
      if (!existsSync(join(root, target))) broken.push(`${link}: no ${target}`);
      else if (anchor && target.endsWith('.md') && !anchors(target).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });

  it('finds the links it checks', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('](docs/usage.md#the-api)');
    expect(anchors('docs/usage.md').has('the-api')).toBe(true);
  });
});
