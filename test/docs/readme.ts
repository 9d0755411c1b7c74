import { readFileSync } from 'node:fs';

/** The README as a newcomer reads it. */
export const README = readFileSync('README.md', 'utf8');

/** The text of one `##`/`###` section, up to the next heading of any level. */
export const section = (heading: string): string => {
  const start = README.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,4} /);
  return end < 0 ? rest : rest.slice(0, end);
};

/** The rows of the first Markdown table in `text`, as cells (header and rule left out). */
export const tableRows = (text: string): string[][] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2)
    .map((l) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );

/** Backquoted words of a text: `a` / `b` gives a and b. */
export const quoted = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
