// A small order batch job with real bugs, for faultline's extraction corpus.
// Usage: node orders.js BUG SEED. Each BUG throws a different uncaught error;
// SEED varies the ids and numbers in its message.
'use strict';

function rng(seed) {
  let x = seed * 2654435761 % 4294967296;
  return () => {
    x = (x * 1664525 + 1013904223) % 4294967296;
    return x / 4294967296;
  };
}

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
    default:
      throw new Error(`unknown bug ${bug}`);
  }
}

function main() {
  const [bug, seed] = process.argv.slice(2);
  processBug(bug, rng(Number(seed)));
}

main();
