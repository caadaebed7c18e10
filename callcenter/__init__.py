"""Telephony: the AMI bridge, the call tracker, the AGI dialogue kit and the feature slices.

See docs/architecture.md for the tree, the four flows and the layer rules.
"""
