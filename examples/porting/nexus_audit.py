"""Nexus audit: does every procedure we rely on have a callee, and who serves it?

An operations script of the kind run against Nexus after a deploy. It reads the
procedures it must find from its own izaber.yaml section:

    nexus_audit:
      required:
        - com.izaber.wamp.system.roster.query
        - com.izaber.wamp.my.service.ping
      show_peers: true

and prints one line per required procedure (OK with its callees, or MISSING),
then a summary with the router's registrations by match policy. It exits
with status 1 when a required procedure has no callee, 2 when it cannot ask.
Its Rust twin is examples/nexus_audit.rs; tests/porting.rs runs both and
compares what they print.
"""

import sys

from izaber import config, initialize
from izaber_wamp import wamp

initialize('nexus-audit')

audit = config.nexus_audit
required = audit.get('required') or []
show_peers = audit.get('show_peers', True)

# The meta API and Nexus's own procedures are not under our URI base.
wamp.wamp.uri_base = ''


def peer_of(session):
    """Where a session connects from: behind a proxy, the forwarded address."""
    transport = session.get('transport') or {}
    headers = transport.get('http_headers_received') or {}
    return headers.get('x-forwarded-for') or transport.get('peer', 'INTERNAL')


def callee_summary(session_id):
    try:
        session = wamp.call('wamp.session.get', session_id)
    except Exception as ex:
        return {'session': session_id, 'error': str(ex)}
    summary = {
        'session': session_id,
        'authid': session.get('authid') or '?',
        'authrole': session.get('authrole') or '?',
    }
    if show_peers:
        summary['peer'] = peer_of(session)
    return summary


try:
    by_match = wamp.call('wamp.registration.list')
except Exception as ex:
    print(f'cannot list registrations: {ex}')
    sys.exit(2)

registrations = {}
counts = {}
for match, ids in by_match.items():
    counts[match] = len(ids)
    for registration_id in ids:
        reg_data = wamp.call('wamp.registration.get', registration_id)
        if not reg_data:
            continue
        callees = wamp.call('wamp.registration.list_callees', registration_id) or []
        reg_data['callees'] = [callee_summary(s) for s in sorted(callees)]
        registrations[reg_data['uri']] = reg_data

missing = []
for uri in required:
    reg_data = registrations.get(uri)
    if not reg_data or not reg_data['callees']:
        missing.append(uri)
        print(f'MISSING  {uri}')
        continue
    for callee in reg_data['callees']:
        if 'error' in callee:
            print(f"OK       {uri}  session {callee['session']}: {callee['error']}")
            continue
        where = f" from {callee['peer']}" if show_peers else ''
        print(f"OK       {uri}  {callee['authid']} ({callee['authrole']}){where}")
    if reg_data['invoke'] != 'single' and len(reg_data['callees']) > 1:
        print(f"         shared: {len(reg_data['callees'])} callees, invoke {reg_data['invoke']}")

served = len(required) - len(missing)
print(f"{served} of {len(required)} required procedures served; registrations: "
      + ', '.join(f'{match} {count}' for match, count in counts.items()))
sys.exit(1 if missing else 0)
