// ESLint rule `bouquet/no-deep-import`: from outside a folder that has an index.ts, import that index.ts (the part's public surface).
// Plain JS (ESLint loads it before any TypeScript tooling). The part-to-part matrix is no-restricted-imports in eslint.config.js.
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The index.ts an importer must use to reach `target`, or null when `target` may be imported as is.
 * Walks from the repository root down to the target's folder and takes the outermost folder with an
 * index.ts that does not contain the importer: `core/placement/bprr.ts` from `server/` needs
 * `core/placement/index.ts`; `worker/runtime/index.ts` from `web/` needs `worker/index.ts`.
 */
export function requiredIndex(root, importerFile, target) {
  const rel = path.relative(root, target);
  if (rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep)[0] === 'node_modules') return null;
  const dirs = path.dirname(rel).split(path.sep).filter((d) => d !== '.');
  const importerDir = path.dirname(path.resolve(importerFile));
  for (let i = 1; i <= dirs.length; i++) {
    const dir = path.join(root, ...dirs.slice(0, i));
    const inside = importerDir === dir || importerDir.startsWith(dir + path.sep);
    if (inside) continue;
    const index = path.join(dir, 'index.ts');
    if (existsSync(index)) return index === target ? null : index;
  }
  return null;
}

/** The rule; options: `{ root, entries }` (entries: files importable as they are, e.g. a worker entry for `new URL(...)`). */
export const noDeepImport = {
  meta: {
    type: 'problem',
    docs: { description: 'import a part through its index.ts, never a file inside it' },
    schema: [{ type: 'object', properties: { root: { type: 'string' }, entries: { type: 'array', items: { type: 'string' } } }, additionalProperties: false }],
    messages: { deep: "'{{spec}}' reaches inside {{dir}}/: import {{index}} (export what you need from it)" },
  },
  create(context) {
    const { root = context.cwd, entries = [] } = context.options[0] ?? {};
    const entryFiles = new Set(entries.map((e) => path.join(root, e)));
    const check = (node) => {
      if (node === null || node === undefined || node.type !== 'Literal' || typeof node.value !== 'string') return;
      const spec = node.value;
      if (!spec.startsWith('./') && !spec.startsWith('../')) return;
      const target = path.resolve(path.dirname(context.filename), spec.replace(/\?.*$/, ''));
      if (entryFiles.has(target)) return;
      const index = requiredIndex(root, context.filename, target);
      if (index === null) return;
      context.report({ node, messageId: 'deep', data: { spec, dir: path.relative(root, path.dirname(index)), index: path.relative(root, index) } });
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
      // new URL('../worker/x.ts', import.meta.url): how a page names a worker entry (Vite bundles it).
      NewExpression: (n) => {
        if (n.callee.type !== 'Identifier' || n.callee.name !== 'URL' || n.arguments.length < 2) return;
        const base = n.arguments[1];
        if (base.type === 'MemberExpression' && base.object.type === 'MetaProperty' && base.property.type === 'Identifier' && base.property.name === 'url') check(n.arguments[0]);
      },
    };
  },
};

/** The local plugin: `bouquet/no-deep-import`. */
export default { meta: { name: 'bouquet' }, rules: { 'no-deep-import': noDeepImport } };
