import { describe, expect, it } from 'vitest';
import { ActionError } from '../../src/core/action.js';
import { describeUploads, readUpload, type Upload } from '../../src/core/uploads.js';

function upload(name: string, size: number, bytes = Buffer.alloc(size)): Upload & { reads: number[] } {
  const reads: number[] = [];
  return {
    name,
    mime: 'image/png',
    size,
    photo: true,
    reads,
    read: (max) => {
      reads.push(max);
      return Promise.resolve(bytes);
    },
  };
}

describe('uploads', () => {
  it('names each file for the audit, quoted, with its size and type, and cuts a long name at 200 characters', () => {
    const long = 'x'.repeat(300);
    expect(describeUploads([upload('a "b".png', 3), upload('../../etc/x\n', 0)])).toBe(
      'with "a \\"b\\".png" (3 bytes, image/png), "../../etc/x\\n" (0 bytes, image/png)',
    );
    expect(describeUploads([upload(long, 1)])).toBe(`with "${'x'.repeat(200)}" (1 bytes, image/png)`);
  });

  it('reads a file up to the limit, telling the reader the limit', async () => {
    const u = upload('p.png', 10, Buffer.from('0123456789'));
    expect((await readUpload(u, 10, AbortSignal.timeout(1000))).toString()).toBe('0123456789');
    expect(u.reads).toEqual([10]);
  });

  it('refuses a file declared larger than the limit before fetching a byte', async () => {
    const u = upload('big.bin', 11);
    const read = readUpload(u, 10, AbortSignal.timeout(1000));
    await expect(read).rejects.toBeInstanceOf(ActionError);
    await expect(read).rejects.toThrow('big.bin is 11 bytes; at most 10 are taken');
    expect(u.reads).toEqual([]);
  });
});
