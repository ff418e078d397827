/**
 * A crash at a chosen point, injected from outside the product: preloaded into an `inflow worker`
 * (`node --require`), it wraps the store's closeRound so that the first call (once per marker file) kills the
 * process with SIGKILL, after the round's records were stored and before the round is closed.
 * INFLOW_TEST_DIE_IN_ROUND names the marker: a file that does not exist yet; it is made, then the process dies.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const marker = process.env.INFLOW_TEST_DIE_IN_ROUND;
const storeModule = require(path.join(__dirname, '..', '..', 'dist', 'store', 'index.js'));
const openStore = storeModule.openStore;

storeModule.openStore = async function openStoreThatDies(opts) {
  const store = await openStore(opts);
  const closeRound = store.observations.closeRound;
  store.observations.closeRound = async (...args) => {
    if (marker && !fs.existsSync(marker)) {
      fs.writeFileSync(marker, String(process.pid));
      process.kill(process.pid, 'SIGKILL');
    }
    return closeRound(...args);
  };
  return store;
};
