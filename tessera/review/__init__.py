"""The review workstation: a local web UI for categorisation, the network and the operation.

Wellbeing is built in, not optional: every image leaves the server blurred and grayscale unless the
signed-in reviewer revealed that one item (audited), and videos are never played.
"""

from tessera.review.app import create_app

__all__ = ["create_app"]
