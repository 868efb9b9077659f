"""Property-based tests against a real `hamr serve`: schemathesis fuzzing of the contract's two
operations (valid keys, then missing and wrong keys), and a stateful test of interleaved GETs
and POSTs from several organizations.

CI runs a bounded number of examples with a fixed seed. The long run (≥ 5 000 examples per
operation, and longer state machine runs):

    HAMR_FUZZ_EXAMPLES=5000 HAMR_STATEFUL_EXAMPLES=500 python -m pytest tests/contract

`HAMR_FUZZ_SEED` picks another seed (the default is fixed, so CI runs are reproducible).
"""
