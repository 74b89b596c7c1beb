"""Verifies one webhook delivery with `standardwebhooks`, the Standard
Webhooks specification's published Python library, as an integration
author would. Reads {secret, headers, body} as JSON on stdin; prints the
verified event's type and exits 0, or prints why not and exits 1.

    echo '{"secret": "whsec_…", "headers": {…}, "body": "…"}' | python3 verify_webhook.py
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

given = json.load(sys.stdin)
try:
    event = Webhook(given["secret"]).verify(given["body"], given["headers"])
except WebhookVerificationError as e:
    print(f"not verified: {e}")
    sys.exit(1)
print(f"verified {event['type']} {event['id']}")
