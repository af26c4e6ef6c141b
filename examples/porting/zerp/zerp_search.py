# docs/usage_in_scripts.md of izaber-wamp-zerp, "model.search(values)", on res.partner.
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')
my_model = zerp.get_model('res.partner')

ids = my_model.search([
    ('name', 'like', 'Acme'),
    ('color', '>=', 10)
])
print(ids)
