"""A small order batch job with real bugs, for faultline's extraction corpus.

Usage: python3 orders.py BUG SEED. Each BUG raises a different uncaught
exception; SEED varies the ids and numbers in its message.
"""
import json
import random
import sys


class InventoryError(Exception):
    pass


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


def lookup_price(prices, sku):
    return prices[sku]


def lookup_stock(stock, sku):
    return stock[sku]


def settle(order_id, amount):
    try:
        return int(amount)
    except ValueError as e:
        raise RuntimeError(f"cannot settle order {order_id}") from e


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
    raise SystemExit(f"unknown bug {bug}")


def main():
    bug, seed = sys.argv[1], int(sys.argv[2])
    process(bug, random.Random(seed))


main()
