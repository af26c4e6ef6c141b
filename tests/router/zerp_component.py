"""A ZERP-like backend for the test router: OpenERP 6.1 models behind Zaber's WAMP bridge.

Zaber's ERP ("ZERP") is an OpenERP 6.1 server whose ``zerp_wamp`` addon logs into Nexus as a
backend user and registers, for each database, the prefix ``com.izaber.wamp.zerp:<db>:``. A
call to ``com.izaber.wamp.zerp:<db>:<model>:<service>`` is split on ``:``, the model is put in
front of the arguments (``object.execute.<method>`` also puts the method after it) and the
result of OpenERP's RPC service is returned. Every failure is reported as an ERROR whose URI
is **the procedure that was called** and whose only argument is the message. The Python
package izaber-wamp-zerp is a thin client of that bridge; ZERP.md (next to this file) is the
contract for the Rust port.

Crossbar loads ``ZerpComponent`` into the router worker after the Nexus component (router.py),
with role ``backend`` like the real bridge, so the dynamic authorizer of nexus_component.py
decides what it may register and call, and Nexus sees it as a normal caller when it announces
its databases in the roster ``roster.zerp.databases``.

What is reproduced, and how:

* the bridge's URI parsing, its checks (caller must be a ``res.users`` login of the database)
  and its error convention, with the real messages where the bridge has them;
* OpenERP's services as the bridge reaches them: ``object`` (``execute``, ``execute_kw``,
  ``exec_workflow``), ``wizard`` (``create``, ``execute``) and ``report`` (``report``,
  ``report_get``, ``render_report``), with their argument lists, so that the Python
  package's quirks (``model.report_get`` gets the model as report id, ``zerp.report_get``
  sends a 3-part URI) fail here as they fail on ZERP;
* the ORM methods with OpenERP's signatures: search (domains with ``& | !``, the comparison,
  ``like``, ``in`` and ``child_of`` operators, dotted paths, ``active`` filtering, offset,
  limit, order, count), read (``load``), write/create with one2many/many2many command tuples,
  unlink (``ondelete`` cascade/set null/restrict), fields_get, name_get, name_search,
  search_count, default_get, exists, Zaber's zerp_search_read(_one), ``res.users.hello`` and
  ``ir.model.get_all_models_metadata_cached_json_compressed_b64`` (for ``generate-types``);
* transactions: every call works on a copy of its database that replaces the original only
  when the call succeeded, so a failed call never leaves a trace (as OpenERP's rollback).

Stricter than OpenERP on purpose, so that a client's mistake is seen: unknown field names in
read/write/create/order are errors (OpenERP ignores them), values must have their field's type
(OpenERP coerces), and a plain id where a command tuple is expected is an error.

Test-only procedures (not in ZERP), for backend and trust sessions, under
``com.izaber.wamp.zerp.fixture.``: ``reset`` (seed data back, call log emptied), ``calls``
(the call log: every call the bridge received), ``clear_calls`` and ``snapshot`` (a database's
raw records, to check that a failed call changed nothing).
"""

import base64
import copy
import datetime
import functools
import inspect
import json
import lzma
import re

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet.defer import inlineCallbacks

URI_BASE = "com.izaber.wamp"
# The bridge's `wamp_registration_prefix`; the Python package builds `zerp:<db>:...` under
# its uri_base `com.izaber.wamp`.
ZERP_PREFIX = URI_BASE + ".zerp"
FIXTURE_PREFIX = ZERP_PREFIX + ".fixture."
ROSTER_NAME = "roster.zerp.databases"
DEFAULT_DATABASES = ["sandbox", "testing"]

# The backend's "today" (default of date fields such as sale.order.date_order). Fixed so
# that what a test sees does not depend on the day it runs.
TODAY = "2025-01-06"

# Older entries are dropped beyond this many (a test clears the log long before).
CALL_LOG_LIMIT = 10000

# Messages the real bridge (zerp_wamp.py) and OpenERP 6.1's services send, word for word.
MSG_URI_FORMAT = 'URI should be in format "<prefix>:<database>:<model>:<service>:<method>"'
MSG_FQN_OBJECT = "FQN must be used. Eg: object.execute.FUNCTIONAME"
MSG_FQN_RPC = "FQN must be used. Eg: rpc.execute.FUNCTIONAME"
MSG_SERVICE_ELEMENTS = "Require 2 or 3 elements for service name"
MSG_INVALID_LOGIN = "com.izaber.zerp.error.invalid_login: could not authenticate session"

# The "module" generate-types is told each method comes from. It builds its BaseModel from
# the methods of ORM_MODULE and one class per model from the others (plus search, create,
# read, write, unlink from any module). It cannot build `read` (two overloads) in BaseModel,
# so the CRUD methods must come from elsewhere: on ZERP the bridge's addon replaces
# write/create/unlink (zerp_wamp/__init__.py wraps them), and read is listed with them.
ORM_MODULE = "openerp.osv.orm"
BRIDGE_MODULE = "openerp.addons.zerp_wamp"
BRIDGE_METHODS = ("read", "write", "create", "unlink")
TEST_MODULE = "izaber_test"  # the "addon" of our model-specific methods


class ZerpError(Exception):
    """A failure the caller sees: ERROR, URI = the procedure called, args = [str(self)]."""


def err(kind, detail):
    """An OpenERP-style failure, "<kind>: <detail>" (kind: Object Error, ValueError, ...)."""
    return ZerpError("{}: {}".format(kind, detail))


# ---------------------------------------------------------------------------
# model definitions
# ---------------------------------------------------------------------------

RELATIONAL = ("many2one", "one2many", "many2many")


class Field:
    """A column of a model, with the attributes fields_get reports.

    `compute(orm, record)` makes a read-only computed field (OpenERP's function field without
    inverse: not stored, cannot be written, cannot be ordered by). `inverse` is the many2one
    field of `relation` behind a one2many. `ondelete` applies to many2one: what happens to
    this record when the record it points to is deleted.
    """

    def __init__(self, type_, string, required=False, readonly=False, help=None, relation=None,
                 inverse=None, selection=None, default=None, ondelete="set null", compute=None,
                 size=None):
        self.type = type_
        self.string = string
        self.required = required
        self.readonly = readonly or compute is not None
        self.help = help
        self.relation = relation
        self.inverse = inverse
        self.selection = selection
        self.default = default
        self.ondelete = ondelete
        self.compute = compute
        self.size = size

    @property
    def stored(self):
        return self.compute is None and self.type != "one2many"

    def describe(self):
        """This field's fields_get entry. Like OpenERP 6.1, the flags appear only when set."""
        d = {"type": self.type, "string": self.string, "selectable": self.compute is None}
        for attr in ("required", "readonly", "help", "size"):
            if getattr(self, attr):
                d[attr] = getattr(self, attr)
        if self.type in RELATIONAL:
            d["relation"] = self.relation
            d["domain"] = []
            d["context"] = {}
        if self.type == "one2many":
            d["relation_field"] = self.inverse
        if self.type == "selection":
            d["selection"] = [list(pair) for pair in self.selection]
        if self.type == "float":
            d["digits"] = [16, 2]
        if self.compute is not None:
            d["function"] = "_compute"
            d["store"] = False
        return d


class ModelDef:
    """A model: its fields, default order, display-name field, parent field (for child_of),
    unique fields, sale-order-like workflow and whether a report of the same name exists."""

    def __init__(self, name, description, fields, order="id", rec_name="name", parent=None,
                 unique=(), workflow=None, report=False, sequence=None):
        self.name = name
        self.description = description
        self.fields = fields
        self.order = order
        self.rec_name = rec_name
        self.parent = parent
        self.unique = unique
        self.workflow = workflow or {}
        self.report = report
        # (field, format): the field's default is the next number of this sequence
        self.sequence = sequence


def _line_subtotal(orm, rec):
    return round(rec["product_uom_qty"] * rec["price_unit"], 2)


def _order_total(orm, rec):
    lines = orm.children("sale.order.line", "order_id", rec["id"])
    return round(sum(_line_subtotal(orm, orm.table("sale.order.line")[i]) for i in lines), 2)


def build_models():
    """The models of both databases (name -> ModelDef)."""
    F = Field
    models = [
        ModelDef("res.users", "Users", {
            "login": F("char", "Login", required=True, size=64,
                       help="Used to log into the system (the Nexus login, lower case)"),
            "name": F("char", "User Name", required=True, size=64),
            "email": F("char", "E-mail", size=64),
            "active": F("boolean", "Active", default=True),
        }, order="login", unique=("login",)),
        ModelDef("res.partner.category", "Partner Categories", {
            "name": F("char", "Category Name", required=True, size=64),
        }, order="name, id"),
        ModelDef("res.partner", "Partner", {
            "name": F("char", "Name", required=True, size=128),
            "ref": F("char", "Reference", size=64),
            "email": F("char", "E-Mail", size=240),
            "active": F("boolean", "Active", default=True),
            "customer": F("boolean", "Customer", default=True,
                          help="Check this box if the partner is a customer."),
            "supplier": F("boolean", "Supplier", default=False,
                          help="Check this box if the partner is a supplier."),
            "is_company": F("boolean", "Is a Company", default=False),
            "type": F("selection", "Address Type", default="default", selection=[
                ("default", "Default"), ("invoice", "Invoice"),
                ("delivery", "Shipping"), ("contact", "Contact")]),
            "credit_limit": F("float", "Credit Limit", default=0.0),
            "color": F("integer", "Color Index", default=0),
            "date": F("date", "Date"),
            "comment": F("text", "Notes"),
            "parent_id": F("many2one", "Parent Partner", relation="res.partner"),
            "child_ids": F("one2many", "Contacts", relation="res.partner", inverse="parent_id"),
            "category_id": F("many2many", "Categories", relation="res.partner.category"),
        }, order="name, id", parent="parent_id", report=True),
        ModelDef("product.category", "Product Category", {
            "name": F("char", "Name", required=True, size=64),
            "parent_id": F("many2one", "Parent Category", relation="product.category"),
            "child_id": F("one2many", "Child Categories", relation="product.category",
                          inverse="parent_id"),
        }, order="name, id", parent="parent_id"),
        ModelDef("product.product", "Product", {
            "name": F("char", "Name", required=True, size=128),
            "default_code": F("char", "Reference", size=64),
            "active": F("boolean", "Active", default=True,
                        help="If unchecked, it will allow you to hide the product without removing it."),
            "sale_ok": F("boolean", "Can be Sold", default=True),
            "type": F("selection", "Product Type", required=True, default="product", selection=[
                ("product", "Stockable Product"), ("consu", "Consumable"), ("service", "Service")]),
            "list_price": F("float", "Sale Price", default=0.0),
            "standard_price": F("float", "Cost Price", default=0.0),
            "qty_available": F("float", "Quantity On Hand", readonly=True, default=0.0),
            "weight": F("float", "Gross weight", default=0.0, help="The gross weight in Kg."),
            "launch_date": F("date", "Launch Date"),
            "description": F("text", "Description"),
            "categ_id": F("many2one", "Category", required=True, relation="product.category",
                          default=1, ondelete="restrict"),
        }, order="default_code, id"),
        ModelDef("sale.order", "Sales Order", {
            "name": F("char", "Order Reference", required=True, readonly=True, size=64),
            "client_order_ref": F("char", "Customer Reference", size=64),
            "partner_id": F("many2one", "Customer", required=True, relation="res.partner",
                            ondelete="restrict"),
            "date_order": F("date", "Date", required=True, default=TODAY),
            "state": F("selection", "Order State", readonly=True, default="draft", selection=[
                ("draft", "Quotation"), ("manual", "To Invoice"), ("progress", "In Progress"),
                ("done", "Done"), ("cancel", "Cancelled")],
                help="Changed by the workflow (exec_workflow), not by hand."),
            "order_line": F("one2many", "Order Lines", relation="sale.order.line",
                            inverse="order_id"),
            "note": F("text", "Notes"),
            "amount_total": F("float", "Total", compute=_order_total),
        }, order="name desc, id desc", unique=("name",), report=True,
            sequence=("name", "SO{:03d}"),
            workflow={
                ("draft", "order_confirm"): "manual",
                ("manual", "manual_invoice"): "progress",
                ("progress", "all_lines"): "done",
                ("draft", "cancel"): "cancel",
                ("manual", "cancel"): "cancel",
            }),
        ModelDef("sale.order.line", "Sales Order Line", {
            "order_id": F("many2one", "Order Reference", required=True, relation="sale.order",
                          ondelete="cascade"),
            "sequence": F("integer", "Sequence", default=10),
            "name": F("char", "Description", required=True, size=256),
            "product_id": F("many2one", "Product", relation="product.product",
                            ondelete="restrict"),
            "product_uom_qty": F("float", "Quantity", required=True, default=1.0),
            "price_unit": F("float", "Unit Price", required=True, default=0.0),
            "price_subtotal": F("float", "Subtotal", compute=_line_subtotal),
        }, order="order_id, sequence, id"),
        ModelDef("ir.model", "Objects", {
            "model": F("char", "Object", required=True, size=64),
            "name": F("char", "Object Name", required=True, size=64),
        }, order="model"),
    ]
    return {m.name: m for m in models}


MODELS = build_models()


def seed_tables(database, logins):
    """The seed records of one database: {model: [record dict with "id", ...]}.

    Both databases get the same data, except that `testing` has one more product (id 7), so
    that a test can tell which database answered. `logins` become res.users 2.. (id 1 is the
    administrator, as in OpenERP)."""
    users = [{"id": 1, "login": "admin", "name": "Administrator", "email": False, "active": True}]
    for i, login in enumerate(logins, start=2):
        users.append({"id": i, "login": login, "name": login.replace("-", " ").title(),
                      "email": "{}@izaber.test".format(login), "active": True})

    def partner(id_, name, **kw):
        rec = {"id": id_, "name": name, "ref": False, "email": False, "active": True,
               "customer": False, "supplier": False, "is_company": False, "type": "default",
               "credit_limit": 0.0, "color": 0, "date": False, "comment": False, "parent_id": False,
               "category_id": []}
        rec.update(kw)
        return rec

    def product(id_, name, code, categ, price, cost, qty, **kw):
        rec = {"id": id_, "name": name, "default_code": code, "active": True, "sale_ok": True,
               "type": "product", "list_price": price, "standard_price": cost,
               "qty_available": qty, "weight": 0.0, "launch_date": False, "description": False,
               "categ_id": categ}
        rec.update(kw)
        return rec

    products = [
        product(1, "X-LSQ150B Linear Stage", "X-LSQ150B", 3, 1835.0, 900.0, 12.0,
                weight=1.2, launch_date="2015-03-02",
                description="Motorized linear stage, 150 mm travel"),
        product(2, "X-LSQ300B Linear Stage", "X-LSQ300B", 3, 2195.0, 1100.0, 4.0,
                weight=1.9, launch_date="2015-03-02"),
        product(3, "X-MCB2 Controller", "X-MCB2", 3, 1195.0, 600.0, 30.0, weight=0.6,
                launch_date="2019-06-17"),
        product(4, "T-LA28A Linear Actuator", "T-LA28A", 3, 595.0, 300.0, 0.0, active=False,
                launch_date="2004-01-12", description="Discontinued"),
        product(5, "Calibration Service", "CAL-SVC", 4, 250.0, 0.0, 0.0, type="service"),
        product(6, "Cable X-DC06", "X-DC06", 2, 35.5, 12.25, 250.0, type="consu", weight=0.1),
    ]
    if database == "testing":
        products.append(product(7, "Testing-only Product", "TEST-ONLY", 2, 1.0, 1.0, 1.0))

    tables = {
        "res.users": users,
        "res.partner.category": [
            {"id": 1, "name": "Customer"}, {"id": 2, "name": "Supplier"},
            {"id": 3, "name": "Distributor"}, {"id": 4, "name": "VIP"},
        ],
        "res.partner": [
            partner(1, "Zaber Technologies Inc.", ref="ZABER", email="info@zaber.test",
                    is_company=True),
            partner(2, "Acme Robotics", ref="ACME", email="sales@acme.test", customer=True,
                    is_company=True, credit_limit=50000.0, date="2016-05-01", color=10,
                    category_id=[1, 4]),
            partner(3, "Jane Doe", email="jane@acme.test", customer=True, type="contact",
                    parent_id=2, color=3, category_id=[1]),
            partner(4, "John Smith", email="john@acme.test", customer=True, type="invoice",
                    parent_id=2),
            partner(5, "Globex Supplies", ref="GLOBEX", supplier=True, is_company=True,
                    color=7, category_id=[2]),
            partner(6, "Old Partner Ltd", ref="OLD", customer=True, is_company=True,
                    active=False, category_id=[1]),
            partner(7, "Initech Distribution", ref="INITECH", email="orders@initech.test",
                    customer=True, supplier=True, is_company=True, credit_limit=10000.0,
                    color=12, category_id=[3, 1], comment="Ships from Calgary"),
        ],
        "product.category": [
            {"id": 1, "name": "All", "parent_id": False},
            {"id": 2, "name": "Saleable", "parent_id": 1},
            {"id": 3, "name": "Motion", "parent_id": 2},
            {"id": 4, "name": "Services", "parent_id": 1},
        ],
        "product.product": products,
        "sale.order": [
            {"id": 1, "name": "SO001", "client_order_ref": "PO-4711", "partner_id": 2,
             "date_order": "2024-01-15", "state": "draft", "note": False},
            {"id": 2, "name": "SO002", "client_order_ref": False, "partner_id": 7,
             "date_order": "2024-02-01", "state": "manual", "note": "Rush"},
            {"id": 3, "name": "SO003", "client_order_ref": False, "partner_id": 2,
             "date_order": "2024-03-10", "state": "cancel", "note": False},
        ],
        "sale.order.line": [
            {"id": 1, "order_id": 1, "sequence": 10, "name": "X-LSQ150B Linear Stage",
             "product_id": 1, "product_uom_qty": 2.0, "price_unit": 1835.0},
            {"id": 2, "order_id": 1, "sequence": 20, "name": "X-MCB2 Controller",
             "product_id": 3, "product_uom_qty": 1.0, "price_unit": 1195.0},
            {"id": 3, "order_id": 2, "sequence": 10, "name": "X-LSQ300B Linear Stage",
             "product_id": 2, "product_uom_qty": 1.0, "price_unit": 2195.0},
        ],
        "ir.model": [{"id": i, "model": name, "name": MODELS[name].description}
                     for i, name in enumerate(sorted(MODELS), start=1)],
    }
    return tables


class Database:
    """The records of one ZERP database. Copied whole for each call (see Backend.execute)."""

    def __init__(self, name, logins):
        self.name = name
        self.tables = {}
        self.next_id = {}
        for model, records in seed_tables(name, logins).items():
            self.tables[model] = {r["id"]: dict(r) for r in records}
            self.next_id[model] = max(self.tables[model], default=0) + 1
        self.sequences = {"sale.order": 4}
        # what res.users.hello was told, in order
        self.hellos = []

    def snapshot(self):
        return {
            "database": self.name,
            "tables": {m: [copy.deepcopy(t[i]) for i in sorted(t)] for m, t in sorted(self.tables.items())},
            "next_id": dict(self.next_id),
            "sequences": dict(self.sequences),
            "hellos": copy.deepcopy(self.hellos),
        }


# ---------------------------------------------------------------------------
# domains, ordering, values
# ---------------------------------------------------------------------------

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "=?", "like", "not like", "ilike", "not ilike",
             "=like", "=ilike", "in", "not in", "child_of")
NEGATIVE_OPERATORS = ("!=", "not like", "not ilike", "not in")
DOMAIN_ARITY = {"!": 1, "&": 2, "|": 2}
# OpenERP's regex_order, with dotted and quoted names left out
ORDER_RE = re.compile(r'^(([a-z0-9_]+|"[a-z0-9_]+")( *desc| *asc)?( *, *|))+$', re.I)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def like_regex(pattern, wrap, ignore_case):
    """SQL LIKE `pattern` as a regex (% any run, _ one character); `wrap`: OpenERP's
    like/ilike search for the value anywhere, i.e. %value%."""
    if wrap:
        pattern = "%" + pattern + "%"
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(rx, re.S | (re.I if ignore_case else 0))


def normalize_domain(domain):
    """OpenERP's normalization: check the terms and make every implicit AND explicit, so that
    the result is one prefix (Polish notation) expression."""
    if domain is None or domain is False:
        return []
    if not isinstance(domain, (list, tuple)):
        raise err("ValueError", "Invalid domain {!r}: a domain is a list of terms".format(domain))
    result = []
    expected = 1
    for token in domain:
        if expected == 0:
            result.insert(0, "&")
            expected = 1
        if isinstance(token, str):
            if token not in DOMAIN_ARITY:
                raise err("ValueError", "Invalid domain term {!r}: only '&', '|' and '!' may "
                                        "stand alone".format(token))
            expected += DOMAIN_ARITY[token] - 1
        elif isinstance(token, (list, tuple)):
            if len(token) != 3 or not isinstance(token[0], str) or not isinstance(token[1], str):
                raise err("ValueError", "Invalid domain term {!r}: expected "
                                        "(field_name, operator, value)".format(token))
            expected -= 1
        else:
            raise err("ValueError", "Invalid domain term {!r}".format(token))
        result.append(token)
    if domain and expected != 0:
        raise err("ValueError", "Invalid domain {!r}: an operator lacks its operands".format(domain))
    return result


def sort_value(v):
    """A key that orders values like PostgreSQL: unset (False/None) after everything else."""
    if v is None or v is False:
        return (1, 0)
    return (0, v)


# ---------------------------------------------------------------------------
# the ORM of one call (works on a copy of the database)
# ---------------------------------------------------------------------------


class Orm:
    """OpenERP's ORM methods over one Database (the call's working copy), as user `uid`."""

    def __init__(self, db, uid, login):
        self.db = db
        self.uid = uid
        self.login = login

    # -- helpers ---------------------------------------------------------

    def table(self, model):
        return self.db.tables[model]

    def field(self, model, name, what):
        f = MODELS[model].fields.get(name)
        if f is None:
            raise err("ValueError", "Invalid field {!r} on model {} ({})".format(name, model, what))
        return f

    def check_ids(self, model, ids, what):
        """`ids` (an int or a list of ints) as a list without duplicates; every id must exist."""
        if is_int(ids):
            ids = [ids]
        if not isinstance(ids, (list, tuple)) or not all(is_int(i) for i in ids):
            raise err("TypeError", "{}: ids must be an integer or a list of integers, got {!r}"
                      .format(what, ids))
        unique = list(dict.fromkeys(ids))
        missing = [i for i in unique if i not in self.table(model)]
        if missing:
            raise err("AccessError", "Operation prohibited by access rules, or performed on an "
                      "already deleted document (Operation: {}, Document type: {}). "
                      "Missing ids of {}: {}".format(what, MODELS[model].description, model, missing))
        return unique

    @staticmethod
    def check_context(context):
        if context not in (None, False) and not isinstance(context, dict):
            raise err("TypeError", "context must be a dictionary, got {!r}".format(context))
        return context or {}

    def children(self, model, inverse, parent_id):
        """Ids of `model` whose many2one `inverse` is `parent_id`, in the model's order."""
        ids = [i for i, r in self.table(model).items() if r[inverse] == parent_id]
        return self.ordered(model, ids)

    def ordered(self, model, ids, order=None):
        keys = self.parse_order(model, order)
        table = self.table(model)
        recs = [table[i] for i in ids]

        def cmp(a, b):
            for name, desc in keys:
                va, vb = sort_value(self.sort_key(model, a, name)), sort_value(self.sort_key(model, b, name))
                if va != vb:
                    less = va < vb
                    return (1 if less else -1) if desc else (-1 if less else 1)
            return (a["id"] > b["id"]) - (a["id"] < b["id"])

        return [r["id"] for r in sorted(recs, key=functools.cmp_to_key(cmp))]

    def parse_order(self, model, order):
        m = MODELS[model]
        if order in (None, False, ""):
            order = m.order
        if not isinstance(order, str) or not ORDER_RE.match(order):
            raise err("AccessError", 'Invalid "order" specified ({!r}). A valid "order" '
                      "specification is a comma-separated list of valid field names (optionally "
                      "followed by asc/desc for the direction)".format(order))
        keys = []
        for part in order.split(","):
            bits = part.split()
            if not bits:
                continue
            name = bits[0].strip('"')
            if name != "id":
                f = self.field(model, name, "order")
                if not f.stored or f.type == "many2many":
                    raise err("ValueError", "Cannot order {} by {!r}: not a stored column"
                              .format(model, name))
            keys.append((name, len(bits) > 1 and bits[1].lower() == "desc"))
        return keys

    def sort_key(self, model, rec, name):
        if name == "id":
            return rec["id"]
        f = MODELS[model].fields[name]
        v = rec[name]
        if f.type == "many2one" and v:
            return self.display_name(f.relation, v)
        if f.type == "boolean":
            return int(v)  # False is a value here, not "unset"
        return v

    def display_name(self, model, id_):
        return self.table(model)[id_][MODELS[model].rec_name] or ""

    def value(self, model, rec, name):
        """The value of field `name` as the ORM sees it: ids for relational fields."""
        if name == "id":
            return rec["id"]
        f = MODELS[model].fields[name]
        if f.compute is not None:
            return f.compute(self, rec)
        if f.type == "one2many":
            return self.children(f.relation, f.inverse, rec["id"])
        if f.type == "many2many":
            return self.ordered(f.relation, rec[name])
        return rec[name]

    def related(self, model, rec, name):
        """The records a relational field of `rec` points to."""
        f = MODELS[model].fields[name]
        v = self.value(model, rec, name)
        ids = ([v] if v else []) if f.type == "many2one" else v
        return f.relation, [self.table(f.relation)[i] for i in ids]

    def descendants(self, model, ids):
        """`ids` and all records below them through the model's parent field (child_of)."""
        parent = MODELS[model].parent
        if parent is None:
            raise err("ValueError", "child_of needs a hierarchical model; {} has no parent field"
                      .format(model))
        found = set(ids)
        frontier = set(ids)
        while frontier:
            frontier = {i for i, r in self.table(model).items()
                        if r[parent] in frontier and i not in found}
            found |= frontier
        return found

    # -- domains -----------------------------------------------------------

    def compile_domain(self, model, domain):
        """A predicate record -> bool for `domain` on `model`."""
        tokens = normalize_domain(domain)
        if not tokens:
            return lambda rec: True
        pos = [0]

        def parse():
            token = tokens[pos[0]]
            pos[0] += 1
            if token == "!":
                a = parse()
                return lambda r: not a(r)
            if token in ("&", "|"):
                a, b = parse(), parse()
                if token == "&":
                    return lambda r: a(r) and b(r)
                return lambda r: a(r) or b(r)
            return self.compile_term(model, token)

        return parse()

    def compile_term(self, model, term):
        path, op, value = term
        op = op.lower()
        if op == "<>":
            op = "!="
        if op not in OPERATORS:
            raise err("ValueError", "Invalid operator {!r} in domain term {!r}".format(term[1], list(term)))
        if op in ("=", "!=") and isinstance(value, (list, tuple)):
            op = "in" if op == "=" else "not in"  # as OpenERP does
        return self._term(model, path.split("."), op, value, term)

    def _term(self, model, parts, op, value, term):
        name = parts[0]
        if name == "id":
            ftype, relation = "integer", model
        else:
            f = MODELS[model].fields.get(name)
            if f is None:
                raise err("ValueError", "Invalid field {!r} in domain term {!r} (model {})"
                          .format(name, list(term), model))
            ftype, relation = f.type, f.relation
        if len(parts) > 1:
            if ftype not in RELATIONAL:
                raise err("ValueError", "Invalid domain term {!r}: {}.{} is not a relational field"
                          .format(list(term), model, name))
            sub = self._term(relation, parts[1:], op, value, term)
            return lambda rec: any(sub(r) for r in self.related(model, rec, name)[1])

        if op == "child_of":
            if name != "id" and ftype != "many2one":
                raise err("ValueError", "child_of needs 'id' or a many2one field, not {!r}".format(name))
            targets = [value] if is_int(value) else value
            if not isinstance(targets, (list, tuple)) or not all(is_int(i) for i in targets):
                raise err("ValueError", "child_of needs an id or a list of ids, got {!r}".format(value))
            allowed = self.descendants(relation, targets)
            return lambda rec: self.value(model, rec, name) in allowed

        if op in ("in", "not in") and not isinstance(value, (list, tuple)):
            raise err("ValueError", "Invalid domain term {!r}: {!r} needs a list".format(list(term), op))
        if op in ("like", "not like", "ilike", "not ilike", "=like", "=ilike") and not isinstance(value, str):
            raise err("ValueError", "Invalid domain term {!r}: {!r} needs a string".format(list(term), op))

        if ftype in ("one2many", "many2many"):
            return self._x2many_term(model, name, relation, op, value, term)
        if ftype == "many2one" and isinstance(value, str) and op not in ("in", "not in"):
            # a name instead of an id: OpenERP matches the related records' names
            if op in ("<", "<=", ">", ">="):
                raise err("ValueError", "Invalid domain term {!r}".format(list(term)))
            positive = op.replace("not ", "").replace("!=", "=")
            names = self._name_matches(relation, positive, value)
            if op in NEGATIVE_OPERATORS:
                return lambda rec: rec[name] not in names
            return lambda rec: rec[name] in names
        has_unset = ftype not in ("boolean", "integer", "float")
        return lambda rec: self._compare(self.value(model, rec, name), op, value, has_unset, term)

    def _name_matches(self, model, op, value):
        """Ids of `model` whose display name matches `op value` (op: = or a like operator)."""
        rec_name = MODELS[model].rec_name
        return {i for i, r in self.table(model).items()
                if self._compare(r[rec_name], op, value, True, None)}

    def _x2many_term(self, model, name, relation, op, value, term):
        if isinstance(value, str):
            positive = op.replace("not ", "").replace("!=", "=")
            if positive not in ("=", "like", "ilike", "=like", "=ilike"):
                raise err("ValueError", "Invalid domain term {!r}".format(list(term)))
            wanted = self._name_matches(relation, positive, value)
        elif value is False or value is None:
            wanted = None  # "is empty"
        elif op in ("=", "!=", "in", "not in"):
            wanted = set(value) if isinstance(value, (list, tuple)) else {value}
        else:
            raise err("ValueError", "Invalid domain term {!r}: {!r} cannot compare a {} field"
                      .format(list(term), op, "x2many"))
        negative = op in NEGATIVE_OPERATORS

        def pred(rec):
            ids = set(self.value(model, rec, name))
            hit = (not ids) if wanted is None else bool(ids & wanted)
            return hit != negative

        return pred

    @staticmethod
    def _compare(actual, op, value, has_unset, term):
        unset = has_unset and (actual is False or actual is None)
        if op == "=?":
            if value is None or value is False:
                return True
            op = "="
        if op == "=":
            if value is None or value is False:
                return unset or actual is False
            return not unset and actual == value
        if op == "!=":
            if value is None or value is False:
                return not unset and actual is not False
            return unset or actual != value
        if op in ("in", "not in"):
            if unset:
                hit = False in value or None in value
            else:
                hit = actual in value
            return hit if op == "in" else (not hit or unset)
        if op in ("like", "ilike", "=like", "=ilike", "not like", "not ilike"):
            if unset:
                return op.startswith("not")
            rx = like_regex(value, not op.startswith("="), "ilike" in op)
            hit = rx.fullmatch(str(actual)) is not None
            return not hit if op.startswith("not") else hit
        if unset:
            return False
        try:
            return {"<": actual < value, "<=": actual <= value,
                    ">": actual > value, ">=": actual >= value}[op]
        except TypeError:
            raise err("ValueError", "Invalid domain term {!r}: cannot compare {!r} with {!r}"
                      .format(list(term) if term else None, actual, value))

    def active_domain(self, model, domain, context):
        """OpenERP hides inactive records unless the domain mentions `active` or the context
        has active_test=False."""
        if "active" not in MODELS[model].fields or not context.get("active_test", True):
            return domain
        if domain is None or domain is False:
            domain = []
        if not isinstance(domain, (list, tuple)):
            return domain  # normalize_domain() reports it
        for token in domain or []:
            if isinstance(token, (list, tuple)) and token and token[0] == "active":
                return domain
        return [("active", "=", True)] + list(domain or [])

    # -- values ------------------------------------------------------------

    def convert(self, model, name, f, v):
        """Check and convert a value written to a stored, non-x2many field."""
        where = "{}.{}".format(model, name)
        t = f.type
        if t in ("char", "text"):
            if v is None or v is False or isinstance(v, str):
                return v if v is not None else False
        elif t == "integer":
            if v is None or v is False:
                return 0
            if is_int(v):
                return v
        elif t == "float":
            if v is None or v is False:
                return 0.0
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        elif t == "boolean":
            if isinstance(v, bool):
                return v
            if v is None:
                return False
        elif t == "date":
            if v is None or v is False:
                return False
            if isinstance(v, str) and DATE_RE.match(v):
                try:
                    datetime.date.fromisoformat(v)
                    return v
                except ValueError:
                    pass
        elif t == "selection":
            if v is None or v is False:
                return False
            if v in [k for k, _ in f.selection]:
                return v
            raise err("ValidateError", "Wrong value for {}: {!r} is not one of {}"
                      .format(where, v, [k for k, _ in f.selection]))
        elif t == "many2one":
            if v is None or v is False:
                return False
            if is_int(v):
                if v not in self.table(f.relation):
                    raise err("IntegrityError", "{} = {}: there is no {} with id {}"
                              .format(where, v, f.relation, v))
                return v
        raise err("ValidateError", "Wrong value for {}: {!r} is not a valid {} value".format(where, v, t))

    def split_vals(self, model, vals, what):
        """Check `vals` (field -> value): (scalar values converted, x2many commands)."""
        if not isinstance(vals, dict):
            raise err("TypeError", "{}: vals must be a dictionary of field values, got {!r}"
                      .format(what, vals))
        scalars, commands = {}, {}
        for name, v in vals.items():
            if not isinstance(name, str) or name == "id":
                raise err("ValueError", "{}: field {!r} cannot be written".format(what, name))
            f = self.field(model, name, what)
            if f.compute is not None:
                raise err("ValueError", "{}: {}.{} is computed and cannot be written"
                          .format(what, model, name))
            if f.type in ("one2many", "many2many"):
                commands[name] = self.check_commands(model, name, f, v)
            else:
                scalars[name] = self.convert(model, name, f, v)
        return scalars, commands

    def check_commands(self, model, name, f, commands):
        """Check the shape of x2many command tuples (their ids are checked when applied)."""
        where = "{}.{}".format(model, name)
        if not isinstance(commands, (list, tuple)):
            raise err("ValidateError", "Wrong value for {}: expected a list of command tuples, got {!r}"
                      .format(where, commands))
        checked = []
        for c in commands:
            if not isinstance(c, (list, tuple)) or not c or not is_int(c[0]) or not 0 <= c[0] <= 6:
                raise err("ValidateError", "Wrong value for {}: {!r} is not a command tuple "
                          "((0, 0, vals), (1, id, vals), (2, id), (3, id), (4, id), (5,), (6, 0, ids))"
                          .format(where, c))
            code = c[0]
            ok = {
                0: len(c) == 3 and isinstance(c[2], dict),
                1: len(c) == 3 and is_int(c[1]) and isinstance(c[2], dict),
                2: len(c) >= 2 and is_int(c[1]),
                3: len(c) >= 2 and is_int(c[1]),
                4: len(c) >= 2 and is_int(c[1]),
                5: True,
                6: len(c) == 3 and isinstance(c[2], (list, tuple)) and all(is_int(i) for i in c[2]),
            }[code]
            if not ok:
                raise err("ValidateError", "Wrong value for {}: malformed command {!r}".format(where, c))
            checked.append(list(c))
        return checked

    def apply_commands(self, model, rec_id, name, commands):
        f = MODELS[model].fields[name]
        rel, table = f.relation, self.table(f.relation)
        where = "{}.{}".format(model, name)

        def existing(i):
            if i not in table:
                raise err("AccessError", "{}: command on {} id {}, which does not exist"
                          .format(where, rel, i))
            return i

        if f.type == "one2many":
            inv = f.inverse
            inv_required = MODELS[rel].fields[inv].required

            def detach(i):
                if inv_required:
                    raise err("IntegrityError", "{}: cannot detach {} {} from its {} ({}.{} is "
                              "required); delete it with (2, id)".format(where, rel, i, model, rel, inv))
                table[i][inv] = False

            for c in commands:
                code = c[0]
                if code == 0:
                    self._create(rel, dict(c[2], **{inv: rec_id}), "create")
                elif code == 1:
                    self._write(rel, [existing(c[1])], c[2], "write")
                elif code == 2:
                    self._unlink(rel, [existing(c[1])])
                elif code == 3:
                    if table[existing(c[1])][inv] == rec_id:
                        detach(c[1])
                elif code == 4:
                    table[existing(c[1])][inv] = rec_id
                elif code == 5:
                    for i in self.children(rel, inv, rec_id):
                        detach(i)
                elif code == 6:
                    keep = [existing(i) for i in c[2]]
                    for i in self.children(rel, inv, rec_id):
                        if i not in keep:
                            detach(i)
                    for i in keep:
                        table[i][inv] = rec_id
        else:
            rec = self.table(model)[rec_id]
            for c in commands:
                code = c[0]
                ids = rec[name]
                if code == 0:
                    ids.append(self._create(rel, c[2], "create"))
                elif code == 1:
                    self._write(rel, [existing(c[1])], c[2], "write")
                elif code == 2:
                    self._unlink(rel, [existing(c[1])])  # also drops it from every list
                elif code == 3:
                    if c[1] in ids:
                        ids.remove(c[1])
                elif code == 4:
                    if existing(c[1]) not in ids:
                        ids.append(c[1])
                elif code == 5:
                    ids.clear()
                elif code == 6:
                    ids[:] = list(dict.fromkeys(existing(i) for i in c[2]))

    def check_constraints(self, model, ids):
        m = MODELS[model]
        table = self.table(model)
        for i in ids:
            rec = table[i]
            for name, f in m.fields.items():
                if f.required and f.stored and (rec[name] is False or rec[name] is None):
                    raise err("ValidateError", "The field {!r} ({}) of {} is required"
                              .format(name, f.string, model))
            if m.parent and rec[m.parent]:
                seen, p = {i}, rec[m.parent]
                while p:
                    if p in seen:
                        raise err("ValidateError", "Error! You can not create recursive {} "
                                  "(through {}).".format(m.description, m.parent))
                    seen.add(p)
                    p = table[p][m.parent]
        for name in m.unique:
            values = [r[name] for r in table.values()]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise err("IntegrityError", "{}.{} must be unique; {!r} is used twice"
                          .format(model, name, dupes[0]))

    # -- the methods behind object.execute --------------------------------
    # Each takes the model first, then OpenERP's arguments (without cr, uid).

    def _search(self, model, args, offset=0, limit=None, order=None, context=None, count=False):
        context = self.check_context(context)
        for name, v in (("offset", offset), ("limit", limit)):
            if not (v is None or v is False or (is_int(v) and v >= 0)):
                raise err("TypeError", "search: {} must be a non-negative integer, got {!r}".format(name, v))
        pred = self.compile_domain(model, self.active_domain(model, args, context))
        table = self.table(model)
        self.parse_order(model, order)  # a bad order fails even when counting
        hits = [i for i, r in table.items() if pred(r)]
        if count:
            return len(hits)
        ids = self.ordered(model, hits, order)
        ids = ids[offset or 0:]
        if limit:
            ids = ids[:limit]
        return ids

    def search(self, model, args, offset=0, limit=None, order=None, context=None, count=False):
        """Search for records matching the domain `args`; their ids, or their number."""
        return self._search(model, args, offset, limit, order, context, count)

    def search_count(self, model, args, context=None):
        """The number of records matching the domain `args`."""
        return self._search(model, args, context=context, count=True)

    def read(self, model, ids, fields=None, context=None, load="_classic_read"):
        """Read `fields` (all when empty) of records `ids`; one dict for an int id."""
        self.check_context(context)
        single = is_int(ids)
        id_list = self.check_ids(model, ids, "read")
        if fields in (None, False) or fields == []:
            fields = list(MODELS[model].fields)
        if not isinstance(fields, (list, tuple)) or not all(isinstance(n, str) for n in fields):
            raise err("TypeError", "read: fields must be a list of field names, got {!r}".format(fields))
        for n in fields:
            if n != "id":
                self.field(model, n, "read")
        if load not in ("_classic_read", "_classic_write"):
            raise err("ValueError", "read: load must be '_classic_read' or '_classic_write'")
        result = [self.read_record(model, self.table(model)[i], fields, load) for i in id_list]
        return result[0] if single else result

    def read_record(self, model, rec, fields, load="_classic_read"):
        out = {"id": rec["id"]}
        for n in fields:
            if n == "id":
                continue
            f = MODELS[model].fields[n]
            v = self.value(model, rec, n)
            if f.type == "many2one" and v and load == "_classic_read":
                v = [v, self.display_name(f.relation, v)]
            out[n] = v
        return out

    def _create(self, model, vals, what):
        scalars, commands = self.split_vals(model, vals, what)
        m = MODELS[model]
        rec_id = self.db.next_id[model]
        rec = {"id": rec_id}
        for name, f in m.fields.items():
            if not f.stored:
                continue
            if name in scalars:
                rec[name] = scalars[name]
            elif m.sequence and m.sequence[0] == name:
                number = self.db.sequences[model]
                self.db.sequences[model] = number + 1
                rec[name] = m.sequence[1].format(number)
            elif f.type == "many2many":
                rec[name] = []
            elif f.default is not None:
                rec[name] = self.convert(model, name, f, f.default)
            else:
                rec[name] = self.convert(model, name, f, False)
        self.db.next_id[model] = rec_id + 1
        self.table(model)[rec_id] = rec
        for name, cmds in commands.items():
            self.apply_commands(model, rec_id, name, cmds)
        self.check_constraints(model, [rec_id])
        return rec_id

    def create(self, model, vals, context=None):
        """Create a record from `vals` (x2many fields take command tuples); its id."""
        self.check_context(context)
        return self._create(model, vals, "create")

    def _write(self, model, ids, vals, what):
        id_list = self.check_ids(model, ids, what)
        scalars, commands = self.split_vals(model, vals, what)
        table = self.table(model)
        for i in id_list:
            table[i].update(scalars)
            for name, cmds in commands.items():
                self.apply_commands(model, i, name, cmds)
        self.check_constraints(model, [i for i in id_list if i in table])
        return True

    def write(self, model, ids, vals, context=None):
        """Write `vals` on the records `ids`; True."""
        self.check_context(context)
        return self._write(model, ids, vals, "write")

    def _unlink(self, model, ids):
        table = self.table(model)
        doomed = [i for i in ids if i in table]
        if not doomed:
            return
        for i in doomed:
            del table[i]
        # what pointed at them: many2one by its ondelete, many2many lists lose them
        for other, m in MODELS.items():
            for name, f in m.fields.items():
                if f.relation != model or not f.stored:
                    continue
                if f.type == "many2many":
                    for r in self.table(other).values():
                        r[name] = [i for i in r[name] if i not in doomed]
                    continue
                refs = [i for i, r in self.table(other).items() if r[name] in doomed]
                if not refs:
                    continue
                if f.ondelete == "cascade":
                    self._unlink(other, refs)
                elif f.ondelete == "restrict" or f.required:
                    raise err("IntegrityError", "The operation cannot be completed, probably due "
                              "to the following:\n- deletion: you may be trying to delete a record "
                              "while other records still reference it ({} {} {} -> {} {})"
                              .format(other, refs, name, model, sorted(set(doomed))))
                else:
                    for i in refs:
                        self.table(other)[i][name] = False

    def unlink(self, model, ids, context=None):
        """Delete the records `ids`; True."""
        self.check_context(context)
        self._unlink(model, self.check_ids(model, ids, "unlink"))
        return True

    def fields_get(self, model, allfields=None, context=None, write_access=True):
        """The description of every field (or of those in `allfields`)."""
        self.check_context(context)
        if allfields not in (None, False) and not isinstance(allfields, (list, tuple)):
            raise err("TypeError", "fields_get: allfields must be a list of field names")
        return {n: f.describe() for n, f in MODELS[model].fields.items()
                if not allfields or n in allfields}

    def name_get(self, model, ids, context=None):
        """[[id, display name], ...] for `ids`."""
        self.check_context(context)
        return [[i, self.display_name(model, i)] for i in self.check_ids(model, ids, "read")]

    def name_search(self, model, name="", args=None, operator="ilike", context=None, limit=100):
        """name_get of the records whose display name matches `operator name` and `args`."""
        domain = list(args or [])
        if name:
            domain.append((MODELS[model].rec_name, operator, name))
        ids = self._search(model, domain, limit=limit, context=context)
        return [[i, self.display_name(model, i)] for i in ids]

    def default_get(self, model, fields_list, context=None):
        """The default values of `fields_list` (fields without one are left out)."""
        self.check_context(context)
        if not isinstance(fields_list, (list, tuple)):
            raise err("TypeError", "default_get: fields_list must be a list of field names")
        out = {}
        for n in fields_list:
            f = self.field(model, n, "default_get")
            if f.default is not None:
                out[n] = f.default
            elif MODELS[model].sequence and MODELS[model].sequence[0] == n:
                out[n] = MODELS[model].sequence[1].format(self.db.sequences[model])
        return out

    def exists(self, model, ids, context=None):
        """The ids out of `ids` that exist."""
        if is_int(ids):
            ids = [ids]
        if not isinstance(ids, (list, tuple)) or not all(is_int(i) for i in ids):
            raise err("TypeError", "exists: ids must be an integer or a list of integers")
        return [i for i in ids if i in self.table(model)]

    def zerp_search_read(self, model, args, fields=None, offset=0, limit=None, order=None,
                         context=None, count=False):
        """Zaber's search + read in one call: the records (dicts) in search order."""
        found = self._search(model, args, offset, limit, order, context, count)
        if count:
            return found
        return self.read(model, found, fields, context)

    def zerp_search_read_one(self, model, args, fields=None, offset=0, limit=None, order=None,
                             context=None, count=False):
        """The first record zerp_search_read would return, or False."""
        found = self._search(model, args, offset, 1, order, context, count)
        if count:
            return found
        return self.read(model, found[0], fields, context) if found else False

    # -- model-specific methods --------------------------------------------

    def hello(self, model, file_, **kwargs):
        """res.users: a script introduces itself (izaber-wamp-zerp's zerp.hello); logged."""
        self.db.hellos.append({"login": self.login, "file": file_, "kwargs": kwargs})
        return True

    def get_all_models_metadata_cached_json_compressed_b64(self, model):
        """ir.model: every model's fields and methods, JSON, LZMA-compressed, base64 (what
        `python -m izaber_wamp_zerp generate-types` reads)."""
        data = {name: models_metadata(name) for name in sorted(MODELS)}
        text = json.dumps(data, sort_keys=True).encode()
        return base64.b64encode(lzma.compress(text)).decode("ascii")


# object.execute methods of every model, and the model-specific ones
BASE_METHODS = ("search", "search_count", "read", "write", "create", "unlink", "fields_get",
                "name_get", "name_search", "default_get", "exists", "zerp_search_read",
                "zerp_search_read_one")
MODEL_METHODS = {
    "res.users": ("hello",),
    "ir.model": ("get_all_models_metadata_cached_json_compressed_b64",),
}


def method_args(fn):
    """generate-types' description of a method's arguments (OpenERP style: cr, uid first)."""
    args = [{"name": "self", "has_default": False}, {"name": "cr", "has_default": False},
            {"name": "uid", "has_default": False}]
    params = list(inspect.signature(fn).parameters.values())[2:]  # Orm's self and `model`
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        entry = {"name": p.name, "has_default": p.default is not p.empty}
        if entry["has_default"]:
            entry["default"] = repr(p.default)
        args.append(entry)
    return args


def models_metadata(name):
    """One model's entry of get_all_models_metadata_...: fields and methods."""
    fields = {}
    for n, f in MODELS[name].fields.items():
        d = f.describe()
        d.update({"select": False, "source": TEST_MODULE, "ownership": [TEST_MODULE],
                  "has_default": f.default is not None, "domain": d.get("domain"),
                  "context": d.get("context"), "help": f.help, "size": f.size})
        fields[n] = d
    methods = {}
    for m in BASE_METHODS + MODEL_METHODS.get(name, ()):
        fn = getattr(Orm, m)
        if m in MODEL_METHODS.get(name, ()):
            module = TEST_MODULE
        elif m in BRIDGE_METHODS:
            module = BRIDGE_MODULE
        else:
            module = ORM_MODULE
        doc = inspect.getdoc(fn)
        methods[m] = {"module": module, "args": method_args(fn),
                      "doc": [{"module": module, "doc": doc}] if doc else None}
    return {"fields": fields, "methods": methods}


# ---------------------------------------------------------------------------
# the bridge: URI parsing, services, transactions
# ---------------------------------------------------------------------------


def bind(fn, what, params, kwargs):
    """Call `fn(*params, **kwargs)`, reporting a signature mismatch as OpenERP's TypeError."""
    try:
        inspect.signature(fn).bind(*params, **kwargs)
    except TypeError as e:
        raise err("TypeError", "{}() {}".format(what, e))
    return fn(*params, **kwargs)


class Backend:
    """All databases plus the server-wide state of OpenERP's wizard and report services."""

    def __init__(self, databases, logins):
        self.database_names = list(databases)
        self.logins = list(logins)
        self.reset()

    def reset(self):
        self.dbs = {name: Database(name, self.logins) for name in self.database_names}
        self.wizard_next = 1
        self.wizards = {}  # id -> {"name", "uid", "datas"}
        self.report_next = 1
        self.reports = {}  # id -> {"uid", "result", "format"}

    def handle(self, procedure, args, kwargs, authid):
        """Run one call as the bridge does; the result, or ZerpError."""
        parts = procedure.split(":")
        if len(parts) != 4:
            raise ZerpError(MSG_URI_FORMAT)
        _prefix, db_name, model, service = parts
        db = self.dbs.get(db_name)
        uid = self.login_uid(db, authid)
        if service == "object.execute":
            raise ZerpError(MSG_FQN_OBJECT)
        if service == "rpc.execute":
            raise ZerpError(MSG_FQN_RPC)
        elements = service.split(".")
        if len(elements) == 2:
            obj, method, sub = elements[0], elements[1], None
        elif len(elements) == 3:
            obj, method, sub = elements
        else:
            raise ZerpError(MSG_SERVICE_ELEMENTS)
        params = [model] + ([sub] if sub else []) + list(args)
        return self.dispatch_rpc(db_name, uid, authid, obj, method, params, kwargs)

    def login_uid(self, db, authid):
        """The bridge's check: the caller's login (lower case) must be a res.users login."""
        if db is None or not authid:
            raise ZerpError(MSG_INVALID_LOGIN)
        login = authid.lower()
        for rec in db.tables["res.users"].values():
            if rec["login"] == login and rec["active"]:
                return rec["id"]
        raise ZerpError(MSG_INVALID_LOGIN)

    def dispatch_rpc(self, db_name, uid, login, obj, method, params, kwargs):
        """OpenERP's netsvc.dispatch_rpc for the services the bridge reaches."""
        services = {
            "object": {"execute": self.execute, "execute_kw": self.execute_kw,
                       "exec_workflow": self.exec_workflow},
            "wizard": {"create": self.wizard_create, "execute": self.wizard_execute},
            "report": {"report": self.report, "report_get": self.report_get,
                       "render_report": self.render_report},
        }
        if obj not in services:
            raise err("KeyError", "unknown service {!r}".format(obj))
        fn = services[obj].get(method)
        if fn is None:
            if obj == "object":
                raise err("NameError", "Method not available {}".format(method))
            raise err("KeyError", "Method not supported {}".format(method))
        return bind(functools.partial(fn, db_name, uid, login), "{}.{}".format(obj, method),
                    params, kwargs)

    def transaction(self, db_name, uid, login, fn):
        """Run fn(orm) on a copy of the database; keep the copy only if fn succeeded."""
        work = copy.deepcopy(self.dbs[db_name])
        result = fn(Orm(work, uid, login))
        self.dbs[db_name] = work
        return result

    # -- object service ------------------------------------------------------

    def execute(self, db_name, uid, login, obj, method, *args, **kw):
        if obj not in MODELS:
            raise err("Object Error", "Object {} doesn't exist".format(obj))
        if not isinstance(method, str) or method.startswith("_"):
            raise err("Access Denied", "Private methods (such as {}) cannot be called remotely."
                      .format(method))
        if method not in BASE_METHODS + MODEL_METHODS.get(obj, ()):
            raise err("AttributeError", "'{}' object has no attribute '{}'".format(obj, method))

        def run(orm):
            return bind(getattr(orm, method), method, (obj,) + args, kw)

        return self.transaction(db_name, uid, login, run)

    def execute_kw(self, db_name, uid, login, obj, method, args, kw=None):
        if not isinstance(args, (list, tuple)) or not (kw is None or isinstance(kw, dict)):
            raise err("TypeError", "execute_kw(model, method, args, kw=None): args must be a list "
                                   "and kw a dictionary")
        return self.execute(db_name, uid, login, obj, method, *args, **(kw or {}))

    def exec_workflow(self, db_name, uid, login, obj, signal, *args):
        if obj not in MODELS:
            raise err("Object Error", "Object {} doesn't exist".format(obj))
        if not args:
            raise err("TypeError", "exec_workflow(model, signal, id): the record id is missing")

        res_id = args[0]
        if not is_int(res_id):
            raise err("TypeError", "exec_workflow: the record id must be an integer, got {!r}"
                      .format(res_id))

        def run(orm):
            orm.check_ids(obj, res_id, "exec_workflow")
            m = MODELS[obj]
            rec = orm.table(obj)[res_id]
            new_state = m.workflow.get((rec.get("state"), signal))
            if new_state is None:
                return False  # OpenERP: a signal with no transition from here does nothing
            rec["state"] = new_state
            return True

        return self.transaction(db_name, uid, login, run)

    # -- wizard service ------------------------------------------------------

    def wizard_create(self, db_name, uid, login, wiz_name, datas=None):
        wiz_id = self.wizard_next
        self.wizard_next += 1
        self.wizards[wiz_id] = {"name": wiz_name, "uid": uid, "datas": datas or {}}
        return wiz_id

    def wizard_execute(self, db_name, uid, login, wiz_id, datas, action="init", context=None):
        # Through the bridge the model name arrives as wiz_id, so this fails as on ZERP.
        wiz = self.wizards.get(wiz_id) if is_int(wiz_id) else None
        if wiz is None:
            raise ZerpError("Wizard not found.")
        if wiz["uid"] != uid:
            raise ZerpError("AccessDenied")
        wiz["datas"].update(datas or {})
        return {"type": "state", "state": "end", "datas": wiz["datas"], "action": action}

    # -- report service --------------------------------------------------------

    def render(self, db_name, uid, login, obj, ids):
        """The report `obj` of records `ids`: a small fake PDF, base64 as OpenERP sends it."""
        if obj not in MODELS or not MODELS[obj].report:
            raise err("KeyError", "report.{} is not a registered report".format(obj))

        def run(orm):
            id_list = orm.check_ids(obj, ids, "report")
            names = [orm.display_name(obj, i) for i in id_list]
            return "%PDF-1.4\n% izaber-wamp test report {} {}\n% {}\n%%EOF\n".format(
                obj, id_list, "; ".join(names)).encode()

        pdf = self.transaction(db_name, uid, login, run)
        # base64.encodestring, as OpenERP 6.1: lines of 76 characters, each ending in \n
        return base64.encodebytes(pdf).decode("ascii")

    def report(self, db_name, uid, login, obj, ids, datas=None, context=None):
        result = self.render(db_name, uid, login, obj, ids)
        report_id = self.report_next
        self.report_next += 1
        self.reports[report_id] = {"uid": uid, "result": result, "format": "pdf"}
        return report_id

    def report_get(self, db_name, uid, login, report_id):
        # Through the bridge the model name arrives first, so this takes too many arguments
        # (the bind() above fails) as on ZERP.
        rep = self.reports.get(report_id) if is_int(report_id) else None
        if rep is None:
            raise ZerpError("ReportNotFound")
        if rep["uid"] != uid:
            raise ZerpError("AccessDenied")
        del self.reports[report_id]
        return {"state": True, "result": rep["result"], "format": rep["format"]}

    def render_report(self, db_name, uid, login, obj, ids, datas=None, context=None):
        return {"state": True, "result": self.render(db_name, uid, login, obj, ids), "format": "pdf"}


# ---------------------------------------------------------------------------
# the component
# ---------------------------------------------------------------------------


class ZerpComponent(ApplicationSession):
    """The bridge's WAMP session: prefix registrations per database, the roster entry, the
    call log and the fixture procedures."""

    def __init__(self, config=None):
        super().__init__(config)
        extra = dict(config.extra or {}) if config else {}
        self.databases = list(extra.get("databases") or DEFAULT_DATABASES)
        logins = sorted({login.lower() for login in extra.get("logins", [])})
        self.backend = Backend(self.databases, logins)
        self.calls = []
        self.call_seq = 0

    @inlineCallbacks
    def onJoin(self, details):
        # Crossbar opens the transports once this returns: everything is in place before a
        # client can connect.
        for db in self.databases:
            yield self.register(self.on_call, "{}:{}:".format(ZERP_PREFIX, db),
                                options=RegisterOptions(match="prefix", details_arg="details"))
        fixtures = {"reset": self.fixture_reset, "calls": self.fixture_calls,
                    "clear_calls": self.fixture_clear_calls, "snapshot": self.fixture_snapshot}
        for name, fn in fixtures.items():
            yield self.register(fn, FIXTURE_PREFIX + name)
        yield self.call(URI_BASE + ".system.roster.register", ROSTER_NAME, self.roster_data())
        self.log.info("zerp test component ready: databases {dbs}", dbs=self.databases)

    def onUserError(self, fail, msg):
        """The ApplicationErrors on_call raises are answers (kept in the call log), not faults
        of this component: keep them out of the router log."""
        if isinstance(fail.value, ApplicationError):
            return
        super().onUserError(fail, msg)

    def roster_data(self):
        """The roster entry (shape of the Nexus documentation's example for ZERP)."""
        return {"databases": [{"database": db, "description": "izaber-wamp test ZERP ({})".format(db),
                               "uri_prefix": "{}:{}:".format(ZERP_PREFIX, db)}
                              for db in self.databases]}

    def on_call(self, *args, details=None, **kwargs):
        """Every call to com.izaber.wamp.zerp:<db>:...: logged, then handled like the bridge."""
        procedure = details.procedure
        self.call_seq += 1
        entry = {
            "seq": self.call_seq,
            "procedure": procedure,
            "args": copy.deepcopy(list(args)),
            "kwargs": copy.deepcopy(kwargs),
            "caller": details.caller,
            "caller_authid": details.caller_authid,
            "caller_authrole": details.caller_authrole,
            "error": None,
        }
        self.calls.append(entry)
        del self.calls[:-CALL_LOG_LIMIT]
        try:
            return self.backend.handle(procedure, copy.deepcopy(list(args)), copy.deepcopy(kwargs),
                                       details.caller_authid)
        except ZerpError as e:
            entry["error"] = str(e)
        except Exception as e:  # a bug here; still answer the way the bridge does
            self.log.failure("zerp backend failed on {procedure}", procedure=procedure)
            entry["error"] = "{}: {}".format(type(e).__name__, e)
        raise ApplicationError(procedure, entry["error"])

    # -- fixture procedures (not in ZERP) --------------------------------------

    def fixture_reset(self):
        """Seed data back in every database, wizard/report ids and the call log (with its
        numbering) start over."""
        self.backend.reset()
        self.calls.clear()
        self.call_seq = 0
        return True

    def fixture_calls(self, clear=False):
        """The call log, oldest first; with clear=True it is emptied in the same step."""
        out = copy.deepcopy(self.calls)
        if clear:
            self.calls.clear()
        return out

    def fixture_clear_calls(self):
        """Empty the call log; how many entries it had."""
        n = len(self.calls)
        self.calls.clear()
        return n

    def fixture_snapshot(self, database):
        """The raw records of `database` (stored fields only), to compare before/after."""
        db = self.backend.dbs.get(database)
        if db is None:
            raise ApplicationError(ZERP_PREFIX + ".fixture.error", "no database {!r}".format(database))
        return db.snapshot()
