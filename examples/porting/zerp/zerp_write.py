# docs/usage_in_scripts.md of izaber-wamp-zerp, "model.write(ids, values)", on res.partner:
# field_6 is child_ids, a one2many to res.partner.
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
my_model = zerp.get_model('res.partner')

result = my_model.write([2], {
    'name': 'some_new_string',
    'color': 42,
    'credit_limit': 12.03,
    'child_ids': [
        # Also update a linked item in some other model
        (1, 3, {
            'color': 0,
            'ref': 'A'
        }),
        (1, 4, {
            'color': 1,
            'ref': 'B'
        })
    ]
})
print(result)
for value in my_model.read([2, 3, 4], ['name', 'color', 'ref', 'credit_limit']):
    print(value['id'], value['name'], value['color'], value['ref'], value['credit_limit'])
