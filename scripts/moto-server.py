"""moto's server, serving one request at a time.

moto's DynamoDB checks a write's condition and then writes with no lock in
between, and undoes a cancelled TransactWriteItems by restoring a copy of the
whole table. Its default threaded server therefore lets two conditional writes
both succeed and wipes concurrent writes, which real DynamoDB never does (see
shared/TOOLING.md). Serving one request at a time makes every request atomic,
so the concurrency tests judge faultline, not the emulator.

moto also snapshots a transaction's table with a deep copy of every item, once
per action: a 100-action transaction on a table of 20,000 items copied two
million items, and a batch of 1,000 new issues made the server grow past
20 GB. Since requests run one at a time, undoing a cancelled transaction only
needs the items it touched as they were: `journaled_transact_write_items`
keeps those and puts them back (same outcome, same errors).

Usage: moto-server.py [--parent-pid PID] [moto_server options: -H HOST -p PORT]
With --parent-pid the server exits when that process is gone, so a test
binary that cannot run destructors (a static server) leaves nothing behind.
"""

import copy
import os
import sys
import threading
import time

import moto.server
from moto.dynamodb import exceptions as ddb_errors
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

# The reasons DynamoDB gives per action of a cancelled transaction.
_CONDITION_FAILED = ("ConditionalCheckFailed", "The conditional request failed")


def _key_of(table, op_type, op):
    """The (hash, range) of the item an action names, as the table keys it."""
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(journal):
    """Puts every touched item back as it was before the transaction, last
    change first (an item is journaled once, before its first change)."""
    for table, hash_value, range_value, before in reversed(journal):
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        else:
            if before is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = before


def journaled_transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise ddb_errors.TooManyTransactionsException()
    journal = []
    named = set()
    reasons = []
    try:
        for action in transact_items:
            if len(action) != 1:
                raise ddb_errors.TransactWriteSingleOpException()
            op_type, op = next(iter(action.items()))
            table_name = op["TableName"]
            table = self.get_table(table_name)
            try:
                hash_value, range_value = _key_of(table, op_type, op)
            except KeyError as missing:
                raise ddb_errors.MockValidationException(
                    f"One or more parameter values were invalid: Missing the key {missing} in the item")
            # DynamoDB refuses two actions on one item in one transaction.
            identity = (table_name, hash_value, range_value)
            if identity in named:
                raise ddb_errors.MultipleTransactionsException()
            named.add(identity)
            current = table.get_item(hash_value, range_value)
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            try:
                if op_type not in ("ConditionCheck", "Put", "Delete", "Update"):
                    raise ValueError("Unsupported transaction operation")
                if condition is not None:
                    if not get_filter_expression(condition, names, values).expr(current):
                        old = None
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            old = current.to_json()["Attributes"]
                        reasons.append(_CONDITION_FAILED + (old,))
                        continue
                if op_type != "ConditionCheck":
                    journal.append((table, hash_value, range_value, copy.deepcopy(current)))
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], condition_expression=condition,
                                  expression_attribute_names=names, expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(table_name, op["Key"], condition_expression=condition,
                                     expression_attribute_names=names, expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(table_name, op["Key"], update_expression=op["UpdateExpression"],
                                     condition_expression=condition, expression_attribute_names=names,
                                     expression_attribute_values=values)
                reasons.append((None, None, None))
            except ddb_errors.MockValidationException:
                raise
            except ddb_errors.ConditionalCheckFailed as e:
                reasons.append(("ConditionalCheckFailed", str(e.message), None))
            except Exception as e:  # any other failure cancels the transaction with its reason
                reasons.append((type(e).__name__, str(e), None))
    except ddb_errors.MockValidationException:
        _restore(journal)
        raise
    if any(code is not None for code, _, _ in reasons):
        _restore(journal)
        raise ddb_errors.TransactionCanceledException(reasons)



def watch_parent(pid):
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(0.5)


def main():
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "--parent-pid":
        threading.Thread(target=watch_parent, args=(int(argv[1]),), daemon=True).start()
        argv = argv[2:]

    original = moto.server.run_simple

    def run_simple_one_at_a_time(*args, **kwargs):
        kwargs["threaded"] = False
        return original(*args, **kwargs)

    moto.server.run_simple = run_simple_one_at_a_time
    DynamoDBBackend.transact_write_items = journaled_transact_write_items
    moto.server.main(argv)


if __name__ == "__main__":
    main()
