"""Near-duplicate items (issue 14): media grouped by perceptual hash, and what follows them.

``grouping`` builds items (PDQ, vPDQ, video frames) into ``item``/``item_member``; ``posts`` gives first
posts, spread and timelines per item; ``spread`` builds the directed spread graph of one item.
"""
