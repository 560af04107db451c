"""The tamper-evident evidence log: every stored finding a leaf of an RFC 9162 Merkle log.

`merkle` is the pure hashing and proofs; `leaves` what a leaf is; `signing` the Ed25519 key
and signed tree heads; `log_store` the two tables; `sequencer` appends and signs; `verify`
and `audit` check one finding or the whole log.
"""
