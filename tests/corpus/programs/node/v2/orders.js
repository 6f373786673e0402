// A small order batch job with real bugs, for faultline's extraction corpus.
// Usage: node orders.js BUG SEED [logged]. Each BUG throws a different
// uncaught error; SEED varies the ids, numbers and names in its message. With
// `logged`, the error is caught and logged with console.error(message, err).
'use strict';

function rng(seed) {
  let x = seed * 2654435761 % 4294967296;
  return () => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return x / 4294967296;
  };
}

// Orders carry their customer inline since the v2 export.
// Older orders may not.
function customerId(order) {
  return order.customer.id;
}

function allocate(count) {
  return new Array(count).fill(0);
}

function findOrder(orders, id) {
  const order = orders.find((o) => o.id === id);
  if (!order) {
    throw new Error(`order ${id} not found`);
  }
  return order;
}

function parseLine(line) {
  return JSON.parse(line);
}

// Dispatch on the bug name given on the command line.
// One case per bug.
// Kept short on purpose.
const ENVIRONMENTS = ['prod', 'staging', 'dev', 'eu-prod'];

function openBucket(env) {
  throw new Error(`bucket reports-${env} is missing in account ${env.length * 1111}`);
}

function syncAccount(account) {
  const ledger = account % 2 ? undefined : null;
  return ledger.entries[account];
}

function processBug(bug, next) {
  const n = 2 + Math.floor(next() * 99990);
  switch (bug) {
    case 'typeerror':
      return customerId({ id: n });
    case 'rangeerror':
      return allocate(-n);
    case 'notfound':
      return findOrder([{ id: 1 }], n);
    case 'syntax':
      return parseLine(`{"qty": ${n}x}`);
    case 'bucket':
      return openBucket(ENVIRONMENTS[n % ENVIRONMENTS.length]);
    case 'sync':
      return syncAccount(n);
    default:
      throw new Error(`unknown bug ${bug}`);
  }
}

function main() {
  const [bug, seed, mode] = process.argv.slice(2);
  if (mode === 'logged') {
    try {
      processBug(bug, rng(Number(seed)));
    } catch (err) {
      console.error(`could not process batch ${Number(seed) % 1000}`, err);
      process.exit(1);
    }
  }
  processBug(bug, rng(Number(seed)));
}

main();
