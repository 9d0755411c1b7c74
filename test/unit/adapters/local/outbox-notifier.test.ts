import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutboxNotifier } from '../../../../shared/adapters/local/notifier.js';
import { notification } from '../../../../shared/pipeline/notifications.js';

const alert = (key: string) => notification('upload.accepted', 'info', key, `accepted ${key}`, ['body']);
const ids = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { id: string }).id);

describe('the outbox file', () => {
  it('writes each id once, also across notifiers (processes) sharing the file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'trustroll-outbox-')), 'outbox.jsonl');
    const [a, b] = [new OutboxNotifier(path), new OutboxNotifier(path)];
    await a.publish(alert('one'));
    await b.publish(alert('one'));
    await b.publish(alert('two'));
    await a.publish(alert('two'));
    expect(ids(path)).toEqual([alert('one').id, alert('two').id]);
  });

  it('loses nothing when the file is rotated away, deleted or replaced by hand while in use', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'trustroll-outbox-')), 'outbox.jsonl');
    const outbox = new OutboxNotifier(path);
    await outbox.publish(alert('before'));
    renameSync(path, `${path}.1`);
    await outbox.publish(alert('after-rotation'));
    expect(ids(path)).toEqual([alert('after-rotation').id]);
    rmSync(path);
    await outbox.publish(alert('after-delete'));
    expect(ids(path)).toEqual([alert('after-delete').id]);
    // A new file of at least the indexed size is another file, not more of the old one.
    writeFileSync(path, `${'x'.repeat(400)}\n`);
    await outbox.publish(alert('after-delete'));
    expect(ids(path)).toEqual([alert('after-delete').id]);
  });
});
