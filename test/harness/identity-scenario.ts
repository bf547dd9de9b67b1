/**
 * One credential scenario in a fresh process (the identity library caches its choice per process):
 * opens the location given as argv[2] with whatever the environment provides, creates the container,
 * writes, lists and reads one blob, and prints one JSON line: { ok, names, text } or { ok: false, error }.
 */
import { openBlobStore } from '../../src/store/blob.js';

const location = process.argv[2];
try {
  const store = await openBlobStore(location);
  await store.prepare('destination');
  await store.write('hello.txt', Buffer.from('hello through a token'), { contentType: 'text/plain' });
  const names: string[] = [];
  for await (const e of store.list()) names.push(e.name);
  const text = (await store.read('hello.txt')).toString();
  process.stdout.write(`${JSON.stringify({ ok: true, names, text, method: store.credential.method })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message, code: (err as { code?: string }).code })}\n`);
}
