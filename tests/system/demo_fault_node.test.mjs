// `agency-ha demo --fault node`: see demo_faults.mjs.
import { test } from 'node:test';
import { faultDrill, faultInterrupted } from './demo_faults.mjs';

test('demo --fault node: detection, failover, takeover, failback by the product; evidence verifies', async (t) => {
  await faultDrill(t, 'node');
});

test('demo --fault node: Ctrl-C while injected reverts it and leaves nothing behind', async (t) => {
  await faultInterrupted(t, 'node');
});
