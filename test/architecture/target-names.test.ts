import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { MODULES } from '../../src/targets/modules.js';

const SRC = new URL('../../src/', import.meta.url).pathname;
/** The one file outside a target's folder that may name targets. */
const MODULE_LIST = 'targets/modules.ts';
/** Every module's name, and the short names some go by. */
const TARGET_NAMES = new Set([...MODULES.map((m) => m.name), 'k8s', 'kube'].map((n) => n.toLowerCase()));

/**
 * The words of an identifier or a text: split at anything that is not a letter or a digit
 * (`_`, `.`, spaces), then at camelCase humps (`dockerHost` → docker, Host; `HTMLParser` → HTML, Parser).
 */
export const words = (s: string): string[] =>
  s
    .split(/[^A-Za-z0-9]+/)
    .flatMap((w) => w.split(/(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/))
    .filter((w) => w !== '');

/** A whole word names a target: `AgentSettings` is not the agents target, `'agents'` is. */
const namesTarget = (s: string): boolean => words(s).some((w) => TARGET_NAMES.has(w.toLowerCase()));

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

const NAMING = new Set([
  ts.SyntaxKind.Identifier,
  ts.SyntaxKind.PrivateIdentifier,
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateHead,
  ts.SyntaxKind.TemplateMiddle,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.RegularExpressionLiteral,
]);

/** Identifiers and literals (template parts included) of a file that name a target; comments are not code. */
export function targetNames(code: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (NAMING.has(node.kind) && namesTarget(node.getText(file))) found.push(node.getText(file));
    node.forEachChild(visit);
  };
  const file = ts.createSourceFile('x.ts', code, ts.ScriptTarget.Latest, true);
  visit(file);
  return found;
}

/** `targets/docker/x.ts` → "docker"; undefined outside a target's folder. */
const targetFolder = (file: string): string | undefined => {
  const parts = relative(SRC, file).split(sep);
  return parts[0] === 'targets' && parts.length > 2 ? parts[1] : undefined;
};

describe('a target is one folder and one line', () => {
  it('no file outside src/targets/<name>/ names a target in code, except the module list', () => {
    const offenders = sources(SRC)
      .filter((f) => targetFolder(f) === undefined && relative(SRC, f) !== MODULE_LIST)
      .flatMap((f) => targetNames(readFileSync(f, 'utf8')).map((name) => `${relative(SRC, f)}: ${name}`));
    expect(offenders).toEqual([]);
  });

  it('the scan sees identifiers, strings and template parts, and skips comments', () => {
    expect(targetNames("// docker\n/* tmux */ const a = 'x';")).toEqual([]);
    expect(targetNames('const dockerHost = 1;')).toEqual(['dockerHost']);
    expect(targetNames("f('tmux.tail')")).toEqual(["'tmux.tail'"]);
    expect(targetNames('const s = `a ${b} kubernetes ${c}`;')).toEqual(['} kubernetes ${']);
    expect(targetNames('const r = /k8s/;')).toEqual(['/k8s/']);
  });

  it('matches whole words only: identifier parts and words in strings', () => {
    const split = ['Agent', 'Settings', 'K8S', 'CONTEXTS', 'a', 'tmux', 'x', 'HTML', 'Parser'];
    expect(words('AgentSettings K8S_CONTEXTS a.tmux-x HTMLParser')).toEqual(split);
    expect(targetNames('type X = AgentSettings; const a = agentEnv; const d = dockerode;')).toEqual([]);
    const named = targetNames("f('agents'); g('agent.new'); h(AGENTS_ON); k('/tmp/AGENTS.md');");
    expect(named).toEqual(["'agents'", 'AGENTS_ON', "'/tmp/AGENTS.md'"]);
    const inText = targetNames("const s = 'the Kubernetes API'; const t = isTmuxUp;");
    expect(inText).toEqual(["'the Kubernetes API'", 'isTmuxUp']);
  });
});
