"""Pure text stages of policytrail: normalise HTML, diff versions, classify changes, render reports.

Nothing in this package touches the network or a database.
"""
