// The harness itself: a port found free can be taken before ecsd binds it; startServer then
// tries another instead of failing the whole test file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { startServer } from './harness.mjs';

function listenAnywhere() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

test('startServer retries with another port when the one it picked is taken', async () => {
  const squatter = await listenAnywhere();
  squatter.on('connection', (socket) => socket.destroy()); // holds the port, answers nothing
  const taken = squatter.address().port;
  const spare = await listenAnywhere();
  const free = spare.address().port;
  await new Promise((r) => spare.close(r));
  const picks = [taken, free];
  const picked = [];
  const server = await startServer({ pickPort: async () => { const p = picks.shift(); picked.push(p); return p; } });
  try {
    assert.deepEqual(picked, [taken, free], 'the taken port first, then another');
    assert.equal(server.port, free);
    const r = await fetch(`${server.baseUrl}/health`);
    assert.equal(r.status, 200);
  } finally {
    await server.stop();
    await new Promise((r) => squatter.close(r));
  }
});
