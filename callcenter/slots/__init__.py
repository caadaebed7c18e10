"""Slice: keeping the slot horizon (the nightly job and ``callcenter slots extend``)."""
