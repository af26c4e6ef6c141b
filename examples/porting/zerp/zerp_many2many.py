# docs/advanced_script_usage.md of izaber-wamp-zerp, the many2many example:
# [(6, 0, [8, 5, 6, 4])] sets the many2many to those ids (here res.partner's category_id).
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
partners = zerp.get('res.partner')

partners.write([2], {'category_id': [(6, 0, [4, 2, 3])]})
print(partners.read(2, ['category_id'])['category_id'])
partners.write([2], {'category_id': [(3, 2), (4, 1)]})
print(partners.read(2, ['category_id'])['category_id'])
