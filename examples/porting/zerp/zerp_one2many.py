# docs/advanced_script_usage.md of izaber-wamp-zerp, the one2many example:
# [(0, 0, {'field_name': field_value_record1, ...}), (0, 0, {...})] creates linked records
# (here lines of a sale order).
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
orders = zerp.get('sale.order')
lines = zerp.get('sale.order.line')

orders.write([1], {'order_line': [
    (0, 0, {'name': 'Cable', 'product_id': 6, 'product_uom_qty': 3, 'price_unit': 35.5}),
    (0, 0, {'name': 'Calibration', 'product_id': 5, 'price_unit': 250.0}),
]})
order = orders.read(1, ['name', 'order_line', 'amount_total'])
print(order['name'], order['amount_total'])
for line in lines.read(order['order_line'], ['name', 'product_uom_qty', 'price_subtotal']):
    print(line['name'], line['product_uom_qty'], line['price_subtotal'])
