"""The rule engine: pure functions over the contract models.

No I/O and no clock reads: time comes from the records, state is passed in. The stream agents
and `xbmon replay` call the same code, so replay is the oracle for the stream.
"""

ENGINE_VERSION = "1.0.0"
