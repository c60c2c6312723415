// The chat's markdown renderer: what a reader sees formatted, and that nothing a model writes becomes live HTML.
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderMarkdown } from '../../../../web/app/chat/markdown.ts';

describe('chat markdown', () => {
  it('renders bold, italic and inline code inside paragraphs', () => {
    expect(renderMarkdown('A **bold** and *soft* `x < y` word')).toBe('<p>A <strong>bold</strong> and <em>soft</em> <code>x &lt; y</code> word</p>');
  });

  it('splits paragraphs on blank lines and keeps single line breaks', () => {
    expect(renderMarkdown('one\ntwo\n\nthree')).toBe('<p>one<br>two</p><p>three</p>');
  });

  it('renders bullet and numbered lists', () => {
    expect(renderMarkdown('Steps:\n- first\n- **second**\n\n1. a\n2) b')).toBe('<p>Steps:</p><ul><li>first</li><li><strong>second</strong></li></ul><ol><li>a</li><li>b</li></ol>');
  });

  it('keeps fenced code literal (no emphasis inside) and closes an unfinished fence', () => {
    expect(renderMarkdown('```js\nconst a = **b** * c;\n```\nafter')).toBe('<pre><code>const a = **b** * c;</code></pre><p>after</p>');
    expect(renderMarkdown('```\nstill streaming')).toBe('<pre><code>still streaming</code></pre>');
  });

  it('never lets HTML through: tags, attributes and entities come out escaped', () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)"> **<script>x</script>** `<b>` &amp;');
    expect(html).not.toMatch(/<(img|script|b)[\s>]/);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain('<strong>&lt;script&gt;x&lt;/script&gt;</strong>');
    expect(html).toContain('&amp;amp;');
    // Every tag emitted is one of the few allowed ones, without attributes.
    for (const tag of html.match(/<[^>]*>/g) ?? []) expect(tag).toMatch(/^<\/?(p|br|strong|em|code|pre|ul|ol|li)>$/);
  });

  it('leaves lone asterisks and arithmetic alone', () => {
    expect(renderMarkdown('2 * 3 * 4 and a*b')).toBe('<p>2 * 3 * 4 and a*b</p>');
    expect(escapeHtml(`'"`)).toBe('&#39;&quot;');
  });
});
