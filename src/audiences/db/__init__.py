"""Storage: one small collection interface, two implementations (PyMongo and mongoeco).

Repositories receive a `Database` and call `db.collection(name)`; they never know
whether it is a MongoDB server (`pymongo.AsyncMongoClient`) or the embedded backend
(`mongoeco.AsyncMongoClient`). Both raise PyMongo's error classes (mongoeco's subclass
them), so `DuplicateKeyError` and friends are caught the same way everywhere.
"""

from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from audiences.db.client import Database, open_database
from audiences.db.collection import (
    Collection,
    DeleteOne,
    IndexSpec,
    InsertOne,
    ReplaceOne,
    UpdateOne,
    WriteOp,
    WriteSummary,
)

__all__ = [
    "BulkWriteError",
    "Collection",
    "Database",
    "DeleteOne",
    "DuplicateKeyError",
    "IndexSpec",
    "InsertOne",
    "OperationFailure",
    "PyMongoError",
    "ReplaceOne",
    "UpdateOne",
    "WriteOp",
    "WriteSummary",
    "open_database",
]
