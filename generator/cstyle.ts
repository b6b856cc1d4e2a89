// Emit stage (style): kernel coding style for generated text — columns with 8-wide tabs, argument lists wrapped at 80
// columns and aligned under their open parenthesis, prose wrapped for commit messages and api.rst.

export const MAX_COL = 80;

/** The display width of a line, tabs to the next multiple of 8. */
export function width(line: string): number {
  let col = 0;
  for (const ch of line) col = ch === "\t" ? (col | 7) + 1 : col + 1;
  return col;
}

/** Leading whitespace that reaches display column `col`: tabs, then spaces (kernel alignment). */
export function indentTo(col: number): string {
  return "\t".repeat(Math.floor(col / 8)) + " ".repeat(col % 8);
}

/**
 * `prefix` + items joined by ", " + `suffix`, wrapped so that no line passes 80 columns where it can be helped;
 * continuation lines align with the column just after `prefix` (which ends with the open parenthesis).
 */
export function wrapList(prefix: string, items: readonly string[], suffix: string): string {
  const lastLine = prefix.slice(prefix.lastIndexOf("\n") + 1);
  const align = indentTo(width(lastLine));
  const lines: string[] = [];
  let cur = prefix;
  items.forEach((item, i) => {
    const piece = item + (i === items.length - 1 ? suffix : ",");
    const sep = cur === prefix || cur === align ? "" : " ";
    if (
      cur !== prefix &&
      cur !== align &&
      width(cur.slice(cur.lastIndexOf("\n") + 1) + sep + piece) > MAX_COL
    ) {
      lines.push(cur);
      cur = align + piece;
    } else {
      cur += sep + piece;
    }
  });
  if (items.length === 0) cur += suffix;
  lines.push(cur);
  return lines.join("\n");
}

/** Prose wrapped to `max` columns (words never split), paragraphs separated by blank lines kept. */
export function wrapText(text: string, max = 72, indent = ""): string {
  return text
    .split(/\n\s*\n/)
    .map((para) => {
      const words = para.trim().split(/\s+/);
      const lines: string[] = [];
      let cur = "";
      for (const w of words) {
        if (cur && width(indent + cur + " " + w) > max) {
          lines.push(indent + cur);
          cur = w;
        } else cur = cur ? `${cur} ${w}` : w;
      }
      if (cur) lines.push(indent + cur);
      return lines.join("\n");
    })
    .join("\n\n");
}

/**
 * A condition of `&&`-joined terms for `if (` at `indent` tabs, wrapped after `&&` and aligned after the
 * parenthesis, as kernel code does.
 */
export function wrapCondition(indentTabs: number, head: string, terms: readonly string[], op = "&&"): string {
  const prefix = "\t".repeat(indentTabs) + head;
  const align = indentTo(width(prefix));
  let out = prefix;
  let line = prefix;
  terms.forEach((t, i) => {
    const piece = t + (i < terms.length - 1 ? ` ${op}` : "");
    if (i > 0 && width(line + " " + piece) > MAX_COL) {
      out += "\n" + align + piece;
      line = align + piece;
    } else {
      const add = i > 0 ? " " + piece : piece;
      out += add;
      line += add;
    }
  });
  return out;
}

/** A kernel comment at `tabs` tabs: one line if it fits in 80 columns, the block form otherwise. */
export function comment(text: string, tabs = 1): string {
  const ind = "\t".repeat(tabs);
  const one = `${ind}/* ${text} */`;
  if (width(one) <= MAX_COL) return one;
  return [`${ind}/*`, wrapText(text, MAX_COL, `${ind} * `), `${ind} */`].join("\n");
}
