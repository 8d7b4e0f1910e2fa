"""Proof suite: chaos (SIGKILL), faults and a concurrent writer against the rotation role.

See docs/proof.md for what each test proves, how to run it and the figures measured.
"""
