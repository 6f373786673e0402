"""A small order batch job with real bugs, for faultline's extraction corpus.

Usage: python3 orders.py BUG SEED [logged]. Each BUG raises a different
uncaught exception; SEED varies the ids, numbers and names in its message.
With `logged`, the exception is caught and logged with logging.exception,
as a job that keeps going would.
"""
import json
import logging
import random
import sys

ENVIRONMENTS = ["prod", "staging", "dev", "eu-prod"]
BAD_PAYLOADS = ['{"id": 7,', "id=7", '{"id" 7}', '{"id": [1, 2}', ""]


class InventoryError(Exception):
    pass


# Orders come from the upstream export; ids are integers.
# See the export schema for the full list of fields.
def customer_of(order):
    return order["customer_id"]


def average(total, count):
    return total / count


def parse_quantity(text):
    return int(text)


def shipping_total(order):
    return order.get("shipping").total


def reserve(sku, wanted, stock):
    if wanted > stock:
        raise InventoryError(f"sku {sku} short by {wanted - stock} units")
    return stock - wanted


# Prices are keyed by lower-case sku.
def lookup_price(prices, sku):
    return prices[sku]


def lookup_stock(stock, sku):
    return stock[sku]


def settle(order_id, amount):
    try:
        return int(amount)
    except ValueError as e:
        raise RuntimeError(f"cannot settle order {order_id}") from e


# Dispatch on the bug name given on the command line.
# (one line per bug)
# (kept short on purpose)
def load_table(env):
    raise LookupError(f"Table customers-{env} not found in region eu-west-1")


def parse_payload(text):
    return json.loads(text)


def sync_account(account):
    raise ConnectionError(f"ledger refused account {account}: quota of tenant acme-{account % 7} exhausted")


def process(bug, rng):
    n = rng.randint(2, 99999)
    if bug == "keyerror-customer":
        return customer_of(json.loads('{"id": %d}' % n))
    if bug == "zerodiv":
        return average(n, 0)
    if bug == "valueerror":
        return parse_quantity(f"{n}x")
    if bug == "attr":
        return shipping_total({"id": n})
    if bug == "custom":
        return reserve(f"SKU-{n}", n + rng.randint(1, 50), n)
    if bug == "keyerror-price":
        return lookup_price({}, f"sku-{n}")
    if bug == "keyerror-stock":
        return lookup_stock({}, f"sku-{n}")
    if bug == "chained":
        return settle(n, f"{n}.{rng.randint(10, 99)}EUR")
    if bug == "table":
        return load_table(rng.choice(ENVIRONMENTS))
    if bug == "payload":
        return parse_payload(rng.choice(BAD_PAYLOADS))
    if bug == "sync":
        return sync_account(n)
    raise SystemExit(f"unknown bug {bug}")


def main():
    bug, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    if sys.argv[3:] == ["logged"]:
        try:
            process(bug, rng)
        except Exception:
            logging.exception("could not process batch %s", seed % 1000)
            sys.exit(1)
    process(bug, rng)


main()
