// `agency-ha demo --fault network`: see demo_faults.mjs.
import { test } from 'node:test';
import { faultDrill, faultInterrupted } from './demo_faults.mjs';

test('demo --fault network: detection, failover, takeover, failback by the product; evidence verifies', async (t) => {
  await faultDrill(t, 'network');
});

test('demo --fault network: Ctrl-C while injected reverts it and leaves nothing behind', async (t) => {
  await faultInterrupted(t, 'network');
});
