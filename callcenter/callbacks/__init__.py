"""Slice: callbacks that keep the caller's place in the queue (placement, dial, reconcile)."""
