# docs/usage_in_scripts.md of izaber-wamp-zerp, "model.read(ids, fields=None)", on res.partner.
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
my_model = zerp.get_model('res.partner')

values = my_model.read([2], ['name', 'color', 'email'])
for value in values:
    print(value['id'], value['name'], value['color'], value['email'])
