# docs/usage_in_scripts.md of izaber-wamp-zerp, "model.create(values)", on res.partner:
# field_6 is child_ids, a one2many to res.partner.
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
my_model = zerp.get_model('res.partner')

new_id = my_model.create({
    'name': 'some_new_string',
    'color': 42,
    'child_ids': [
        # Create an item in some other model that will automatically be linked to this object
        (0, 0, {
            'color': 0,
            'name': 'A'
        }),
        (0, 0, {
            'color': 1,
            'name': 'B'
        }),
    ]
})
print(new_id)
created = my_model.read(new_id, ['name', 'child_ids'])
print(created['name'], created['child_ids'])
for child in my_model.read(created['child_ids'], ['name', 'color', 'parent_id']):
    print(child['name'], child['color'], child['parent_id'])
