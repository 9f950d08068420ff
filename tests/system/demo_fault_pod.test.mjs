// `agency-ha demo --fault pod`: see demo_faults.mjs.
import { test } from 'node:test';
import { faultDrill } from './demo_faults.mjs';

test('demo --fault pod: detection, failover, takeover, failback by the product; evidence verifies', async (t) => {
  await faultDrill(t, 'pod');
});
