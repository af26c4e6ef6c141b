# docs/usage_in_scripts.md of izaber-wamp-zerp, "Getting a model" (model.name: res.partner).
from izaber import initialize
from izaber.wamp.zerp import zerp

initialize('izaber-wamp')

my_model = zerp.get_model('res.partner')
print(my_model.schema_['name']['type'], my_model.schema_['name']['string'])
