"""The call tracker: where AMI events become calls.

``tracker.py`` (``CallTracker``) folds the bus's AMI events into one ``LiveCall`` per Linkedid
with the pure rules of ``state.py`` and publishes notices (``CallQueued``, ``AgentRinging``,
``CallAnswered``, ``CallEnded``) for the slices; ``call_log.py`` writes calls and their events
to the database in batches; ``channel_ids.py`` names campaign calls so the tracker knows them.
Imports no feature slice (an import contract checks it).
"""
