// A tiny safe markdown renderer for chat answers: HTML is escaped first, then **bold**, *italic*, `code`, fenced code, lists, paragraphs — never raw HTML.

/** Escapes the five HTML-significant characters, so that nothing a model writes becomes markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

// Inline spans on already-escaped text: code first (its content stays literal), then bold, then italic.
function inline(escaped: string): string {
  const parts = escaped.split(/(`[^`\n]+`)/g);
  return parts
    .map((p, i) => {
      if (i % 2 === 1) return `<code>${p.slice(1, -1)}</code>`;
      return p.replace(/\*\*(?=\S)([^*\n]*?\S)\*\*/g, '<strong>$1</strong>').replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, '$1<em>$2</em>');
    })
    .join('');
}

const bullet = /^\s*[-*+]\s+(.*)$/;
const numbered = /^\s*\d{1,9}[.)]\s+(.*)$/;

/**
 * Renders chat text as HTML. Safe by construction: the whole input is escaped before any tag is
 * added, and the only tags emitted are p, br, strong, em, code, pre, ul, ol and li, without
 * attributes. An unclosed fence (an answer still streaming) renders as code up to the end.
 */
export function renderMarkdown(text: string): string {
  const lines = escapeHtml(text.replace(/\r\n?/g, '\n')).split('\n');
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length > 0) out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i] ?? '';
    if (/^\s*```/.test(line)) {
      flush();
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i] ?? '')) code.push(lines[i++] ?? '');
      i++; // the closing fence (or past the end)
      out.push(`<pre><code>${code.join('\n')}</code></pre>`);
      continue;
    }
    const kind = bullet.test(line) ? 'ul' : numbered.test(line) ? 'ol' : null;
    if (kind !== null) {
      flush();
      const pattern = kind === 'ul' ? bullet : numbered;
      const items: string[] = [];
      while (i < lines.length) {
        const m = pattern.exec(lines[i] ?? '');
        if (m === null) break;
        items.push(`<li>${inline(m[1] ?? '')}</li>`);
        i++;
      }
      out.push(`<${kind}>${items.join('')}</${kind}>`);
      continue;
    }
    if (line.trim() === '') flush();
    else paragraph.push(line);
    i++;
  }
  flush();
  return out.join('');
}
