# docs/usage_in_scripts.md of izaber-wamp-zerp, "Initialization".
# Import the required parts of the module
from izaber import initialize
from izaber.wamp.zerp import zerp

# Inside the main part of your script

# Connect to Zerp over the WAMP bus
initialize('izaber-wamp')

# Identify yourself to Zerp to help IT troubleshoot issues
result = zerp.hello(__file__, author="My Name", description="This script is just an example")
print(result)
